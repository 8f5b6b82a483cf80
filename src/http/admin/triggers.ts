import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { MAX_RULES, parseRules, type TriggerRule } from '../../domain/trigger-rules.js';
import { HttpError } from '../errors.js';
import { describedOnly } from '../openapi.js';
import type { Services } from '../services.js';

/**
 * How long a process serves rules from memory: a PUT on this process shows at once, on
 * other processes of a cluster within this long, in browsers after their cache (below).
 */
const RULES_CACHE_MS = 30_000;
/** Browsers and CDNs may keep `/rules.js` this long. */
const RULES_MAX_AGE_S = 60;

type Query = { env_id?: string };

/** The tag loads these: described, not checked (an unknown or missing env_id is a 404). */
const RulesQuery = Type.Object({ env_id: Type.String({ description: 'the environment' }) });
const EnvParams = Type.Object({ env_id: Type.String() });
const RulesBody = Type.Object({
  rules: Type.Array(Type.Unknown(), {
    maxItems: MAX_RULES,
    description:
      'each {id?, event_name, trigger: {type: url, pattern} | {type: click, selector} | ' +
      '{type: datalayer, event}, value_path?, currency?, currency_path?, event_id_path?}',
  }),
});

/**
 * Codeless triggers: the admin API edits an environment's rules
 * (`GET|PUT /api/environments/:env_id/triggers`), and the tag fetches them with the engine
 * as `GET /rules.js?env_id=…` (or as JSON from `GET /rules?env_id=…`).
 */
export function triggerRoutes(app: FastifyInstance, s: Services): void {
  const cache = new Map<string, { rules: TriggerRule[]; until_ms: number }>();

  async function rulesOf(envId: string): Promise<TriggerRule[]> {
    const hit = cache.get(envId);
    if (hit && hit.until_ms > s.nowMs()) return hit.rules;
    const rules = (await s.store.getTriggerRules(envId))?.rules ?? [];
    cache.set(envId, { rules, until_ms: s.nowMs() + RULES_CACHE_MS });
    return rules;
  }

  function knownEnv(envId: string | undefined): string {
    if (!envId || !s.environment(envId))
      throw new HttpError(404, 'unknown_env', `no environment ${envId ?? '(missing env_id)'}`);
    return envId;
  }

  const publicHeaders = (reply: FastifyReply) =>
    reply
      .header('cache-control', `public, max-age=${RULES_MAX_AGE_S}`)
      .header('access-control-allow-origin', '*');

  app.get<{ Querystring: Query }>(
    '/rules.js',
    {
      schema: {
        summary:
          "the environment's codeless trigger rules with their engine (JavaScript, loaded by t.js; cacheable 60 s)",
        querystring: RulesQuery,
      },
      ...describedOnly,
    },
    async (req, reply) => {
      const envId = knownEnv(req.query.env_id);
      if (!s.rulesEngine)
        throw new HttpError(
          503,
          'tag_not_built',
          'the rules engine is not built: run npm run build',
        );
      // `<` escaped so the JSON can never close a script element it is inlined into.
      const json = JSON.stringify(await rulesOf(envId)).replace(/</g, '\\u003c');
      return publicHeaders(reply)
        .type('text/javascript; charset=utf-8')
        .send(`window.__ptr=${json};\n${s.rulesEngine}`);
    },
  );

  app.get<{ Querystring: Query }>(
    '/rules',
    {
      schema: {
        summary: "the environment's codeless trigger rules as JSON (cacheable 60 s)",
        querystring: RulesQuery,
      },
      ...describedOnly,
    },
    async (req, reply) => {
      const envId = knownEnv(req.query.env_id);
      return publicHeaders(reply).send({ env_id: envId, rules: await rulesOf(envId) });
    },
  );

  // Admin routes: admin-auth.ts checks them, as every `/api/` route.
  app.register(async (api) => {
    api.get<{ Params: { env_id: string } }>(
      '/api/environments/:env_id/triggers',
      { schema: { summary: 'read the codeless trigger rules', params: EnvParams } },
      async (req) => {
        const envId = knownEnv(req.params.env_id);
        const stored = await s.store.getTriggerRules(envId);
        return {
          env_id: envId,
          rules: stored?.rules ?? [],
          updated_at_ms: stored?.updated_at_ms ?? null,
        };
      },
    );

    api.put<{ Params: { env_id: string }; Body: unknown }>(
      '/api/environments/:env_id/triggers',
      {
        schema: {
          summary: 'replace the codeless trigger rules (400 names each bad field)',
          params: EnvParams,
          body: RulesBody,
        },
        // The rules' own parser names each bad field (parseRules), deeper than a schema would.
        ...describedOnly,
      },
      async (req) => {
        const envId = knownEnv(req.params.env_id);
        const body = req.body as { rules?: unknown } | null;
        const parsed = parseRules(body?.rules);
        if (!parsed.ok)
          throw new HttpError(400, 'invalid_rules', 'the rules were not saved', parsed.errors);
        const now = s.nowMs();
        await s.store.putTriggerRules(envId, parsed.rules, now);
        cache.set(envId, { rules: parsed.rules, until_ms: now + RULES_CACHE_MS });
        return { env_id: envId, rules: parsed.rules, updated_at_ms: now };
      },
    );
  });
}
