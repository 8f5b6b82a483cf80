import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_CLICK_ID_PARAM } from '../domain/click-link.js';
import { HttpError } from './errors.js';
import { describedOnly } from './openapi.js';
import { bearer, secretEquals } from './request/key-check.js';
import type { Services } from './services.js';

type TagBody = NonNullable<Services['tag']>;

const TagQuery = Type.Object({
  env_id: Type.Optional(
    Type.String({
      description:
        'the environment whose consent default, follow_cmp and click_id_param the tag starts with',
    }),
  ),
});

/** How long t.js trusts what it learnt of an environment's trigger rules (rules.js: 60 s). */
const RULES_PRESENCE_MS = 60_000;

/**
 * Whether an environment has codeless trigger rules, read from the store at most once a
 * minute; a store that cannot answer counts as "has rules" (the tag then loads rules.js).
 */
function rulesPresence(s: Services): (envId: string) => Promise<boolean> {
  const known = new Map<string, { has: boolean; untilMs: number }>();
  return async (envId) => {
    const hit = known.get(envId);
    if (hit && hit.untilMs > s.nowMs()) return hit.has;
    let has = true;
    try {
      has = ((await s.store.getTriggerRules(envId))?.rules.length ?? 0) > 0;
    } catch {
      // Unknown: loading rules.js costs the page a cached request, missing them loses triggers.
    }
    known.set(envId, { has, untilMs: s.nowMs() + RULES_PRESENCE_MS });
    return has;
  };
}

/**
 * `t.js?env_id=ID` carries the environment's consent default, so that with `denied` the tag
 * stores nothing before the visitor consents, its `follow_cmp`, its `click_id_param`, and
 * whether it has trigger rules: without, the tag never loads rules.js. One variant per
 * environment and rules presence, built once.
 */
function tagVariants(
  s: Services,
): (envId: string | undefined, hasRules: boolean) => TagBody | null {
  const cache = new Map<string, TagBody>();
  return (envId, hasRules) => {
    const tag = s.tag;
    const env = envId ? s.environment(envId) : undefined;
    if (!tag || !env) return tag;
    const prefix =
      (env.consent_default === 'denied' ? 'window.pixeltrailConsentDefault="denied";' : '') +
      (env.follow_cmp ? 'window.pixeltrailCmp=true;' : '') +
      // The name is checked to be [A-Za-z0-9_.-] (config-parse), so it is safe in a string.
      (env.click_id_param !== DEFAULT_CLICK_ID_PARAM
        ? `window.pixeltrailClickParam="${env.click_id_param}";`
        : '') +
      (hasRules ? '' : 'window.pixeltrailRules=false;');
    if (!prefix) return tag;
    const key = `${env.id}\n${hasRules}`;
    let v = cache.get(key);
    if (!v) {
      const js = Buffer.concat([Buffer.from(prefix), tag.js]);
      const etag = `"${createHash('sha256').update(js).digest('hex').slice(0, 16)}"`;
      v = { js, gzip: gzipSync(js, { level: 9 }), etag };
      cache.set(key, v);
    }
    return v;
  };
}

/** Liveness, readiness, metrics, the tag and the API's own description. */
export function systemRoutes(app: FastifyInstance, s: Services): void {
  app.get('/healthz', { schema: { summary: 'liveness: `{ok:true}`' } }, async () => ({ ok: true }));

  app.get(
    '/openapi.json',
    { schema: { summary: "this API described (OpenAPI 3), from the routes' schemas" } },
    async () => app.swagger(),
  );

  const readyz = {
    summary: 'readiness: 503 when the store cannot commit',
    description:
      'Answers `{ok:true, queued_writes}` once the store answers and its latest commit ' +
      'succeeded; `503 {ok:false, error}` otherwise (a full or read-only disk too).',
  };
  app.get('/readyz', { schema: readyz }, async (req, reply) => {
    try {
      await s.store.ping();
      // A store that answers reads may still refuse writes (disk full, read-only).
      if (s.pipeline.failing) throw new Error('the latest commit failed');
      return { ok: true, queued_writes: s.pipeline.pending };
    } catch (e) {
      req.log.warn({ err: e }, 'store not ready');
      return reply.status(503).send({
        ok: false,
        error: { code: 'store_unavailable', message: 'the store cannot commit' },
      });
    }
  });

  const metrics = {
    summary: 'Prometheus metrics',
    description:
      'Open unless the config sets `metrics_token`; then `Authorization: Bearer <metrics_token>` ' +
      'is required (401 otherwise).',
  };
  app.get('/metrics', { schema: metrics }, async (req, reply) => {
    const want = s.config.metrics_token;
    // Off by default, as Prometheus exporters are; with a token, scrape with Bearer auth.
    if (want !== null && !secretEquals(bearer(req.headers.authorization), want))
      throw new HttpError(
        401,
        'unauthorized',
        'the metrics token is required: Authorization: Bearer <metrics_token>',
      );
    s.metrics.queueDepth.set(s.pipeline.pending);
    reply.header('content-type', s.metrics.registry.contentType);
    return s.metrics.exposition();
  });

  const variant = tagVariants(s);
  const hasRules = rulesPresence(s);
  const tagSchema = {
    summary: 'the tag (JavaScript)',
    description: 'gzip, ETag, cacheable 5 min; 503 when it was not built (`npm run build`).',
    querystring: TagQuery,
  };
  app.get<{ Querystring: Static<typeof TagQuery> }>(
    '/t.js',
    // Described, not checked: a `<script>` gets the tag whatever its query holds.
    { schema: tagSchema, ...describedOnly },
    async (req, reply) => {
      const envId = typeof req.query.env_id === 'string' ? req.query.env_id : undefined;
      const known = envId !== undefined && s.environment(envId) !== undefined;
      const tag = variant(envId, known ? await hasRules(envId) : true);
      if (!tag)
        return reply
          .status(503)
          .send({ error: { code: 'tag_not_built', message: 'run npm run build' } });
      reply.header('content-type', 'application/javascript; charset=utf-8');
      reply.header('cache-control', 'public, max-age=300');
      reply.header('etag', tag.etag);
      reply.header('vary', 'Accept-Encoding');
      reply.header('access-control-allow-origin', '*');
      if (req.headers['if-none-match'] === tag.etag) return reply.status(304).send();
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        reply.header('content-encoding', 'gzip');
        return reply.send(tag.gzip);
      }
      return reply.send(tag.js);
    },
  );
}
