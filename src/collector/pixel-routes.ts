import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../config/config-types.js';
import { decideRedirect, verifyClick } from '../domain/click-link.js';
import type { Touch, TouchKind } from '../domain/event.js';
import { validateEvent } from '../domain/validation.js';
import { isBotAgent } from './bot-filter.js';
import { deviceTouchId } from './device-touch.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { browserOptedOut, readBrowserId, requestUser, setBrowserId } from './request-identity.js';
import type { Services } from './services.js';

const MAX_PARAM_CHARS = 256;
type Query = Record<string, string | string[] | undefined>;

/** First value of a query parameter, or undefined when absent, empty or too long. */
function param(q: Query, key: string): string | undefined {
  const v = Array.isArray(q[key]) ? q[key][0] : q[key];
  return typeof v === 'string' && v !== '' && v.length <= MAX_PARAM_CHARS ? v : undefined;
}

function sendGif(reply: FastifyReply, warnings: string[]): FastifyReply {
  reply.headers(GIF_HEADERS);
  // A pixel can only answer with an image; its problems travel in a header instead.
  if (warnings.length > 0) reply.header('x-pixeltrail-warnings', warnings.join(', '));
  return reply.status(200).send(TRANSPARENT_GIF);
}

/** Gives the browser its id cookie when it has none and may be given one. */
function browserId(
  s: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  optedOut: boolean,
): string | null {
  if (optedOut) return null;
  const existing = readBrowserId(req);
  if (existing) return existing;
  const id = s.newId('');
  setBrowserId(req, reply, id);
  return id;
}

function touchFrom(
  env: EnvironmentConfig,
  kind: TouchKind,
  touchId: string,
  q: Query,
  req: FastifyRequest,
  anon: string | null,
  nowS: number,
): Touch {
  return {
    env_id: env.id,
    kind,
    touch_id: touchId,
    dest_id: param(q, 'dest_id') ?? null,
    campaign_id: param(q, 'campaign_id') ?? null,
    creative_id: param(q, 'creative_id') ?? null,
    placement_id: param(q, 'placement_id') ?? null,
    time: nowS,
    anonymous_id: deviceTouchId(q) ?? anon,
    user_id: param(q, 'user_id') ?? null,
    ip: req.ip,
    user_agent: req.headers['user-agent'] ?? null,
  };
}

/** Why a pixel hit cannot be recorded, or null when it can. */
function pixelProblem(
  env: EnvironmentConfig | undefined,
  q: Query,
  idParam: string,
  req: FastifyRequest,
): string | null {
  if (!param(q, 'env_id')) return 'missing_env_id';
  if (!env) return 'unknown_env';
  const dest = param(q, 'dest_id');
  if (idParam === 'imp_id' && !dest) return 'missing_dest_id';
  if (dest && !env.destinations.some((d) => d.id === dest)) return 'unknown_dest';
  if (!param(q, idParam)) return `missing_${idParam}`;
  if (isBotAgent(req.headers['user-agent'])) return 'bot';
  return null;
}

/** `/i` impression pixel, `/p` event pixel and `/c` click redirect (DESIGN §5). */
export function pixelRoutes(app: FastifyInstance, s: Services): void {
  const swallow = () => s.metrics.writesLost.inc();

  app.get('/i', async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'i' });
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    const problem = pixelProblem(env, q, 'imp_id', req);
    if (problem || !env) {
      s.metrics.invalidHits.inc({ endpoint: 'i', reason: problem ?? 'unknown_env' });
      return sendGif(reply, [problem ?? 'unknown_env']);
    }
    const optedOut = browserOptedOut(req, env.honor_dnt);
    const anon = browserId(s, req, reply, optedOut);
    if (optedOut) return sendGif(reply, ['opted_out']);
    await s.pipeline.waitForRoom();
    const touch = touchFrom(
      env,
      'impression',
      param(q, 'imp_id') as string,
      q,
      req,
      anon,
      Math.floor(s.nowMs() / 1000),
    );
    s.pipeline.recordTouch(touch).catch(swallow);
    return sendGif(reply, []);
  });

  app.get('/p', async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'p' });
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    if (!env) {
      s.metrics.invalidHits.inc({
        endpoint: 'p',
        reason: param(q, 'env_id') ? 'unknown_env' : 'missing_env_id',
      });
      return sendGif(reply, ['unknown_env']);
    }
    if (isBotAgent(req.headers['user-agent'])) {
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: 'bot' });
      return sendGif(reply, ['bot']);
    }
    const optedOut = browserOptedOut(req, env.honor_dnt);
    const anon = browserId(s, req, reply, optedOut);
    const result = validateEvent(
      {
        env_id: env.id,
        event_name: param(q, 'ev'),
        event_id: param(q, 'eid'),
        user: {
          user_id: param(q, 'user_id'),
          click_id: param(q, 'click_id'),
          imp_id: param(q, 'imp_id'),
          anonymous_id: anon ?? undefined,
        },
        properties: {
          value: param(q, 'value'),
          currency: param(q, 'currency'),
          content_ids: param(q, 'content_ids')?.split(','),
          url: req.headers.referer,
        },
        consent: optedOut ? { ads: false } : undefined,
        test_event_code: param(q, 'test_code'),
      },
      {
        nowMs: s.nowMs(),
        source: 'pixel',
        envId: env.id,
        newId: () => s.newId('gen_'),
        requestUser: requestUser(req),
      },
    );
    if (!result.ok) {
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: 'invalid_event' });
      return sendGif(
        reply,
        result.errors.map((e) => `${e.field} ${e.message}`),
      );
    }
    await s.pipeline.waitForRoom();
    s.pipeline.recordEvents([result.event]).then(() => s.worker.wake(), swallow);
    return sendGif(reply, result.event.warnings);
  });

  app.get('/c', async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'c' });
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    const refuse = (reason: string, message: string) => {
      s.metrics.invalidHits.inc({ endpoint: 'c', reason });
      return reply
        .status(400)
        .header('cache-control', 'no-store')
        .send({ error: { code: reason, message } });
    };
    if (!env) return refuse('unknown_env', 'env_id is missing or unknown');
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) if (typeof v === 'string') flat[k] = v;
    const signed = verifyClick(env.click_secret, flat);
    if (flat.sig && !signed) return refuse('bad_signature', 'the link signature does not match');
    const decision = decideRedirect(flat.url, signed, env.click_url_hosts);
    if (!decision.ok)
      return refuse(decision.reason, `url is not a permitted redirect target (${decision.reason})`);
    const dest = param(q, 'dest_id');
    if (dest && !env.destinations.some((d) => d.id === dest))
      s.metrics.invalidHits.inc({ endpoint: 'c', reason: 'unknown_dest' });
    const optedOut = browserOptedOut(req, env.honor_dnt);
    const anon = browserId(s, req, reply, optedOut);
    if (!optedOut && !isBotAgent(req.headers['user-agent'])) {
      const clickId = param(q, 'click_id') ?? s.newId('clk_');
      s.pipeline
        .recordTouch(touchFrom(env, 'click', clickId, q, req, anon, Math.floor(s.nowMs() / 1000)))
        .catch(swallow);
    }
    return reply
      .status(302)
      .header('cache-control', 'no-store')
      .header('location', decision.location)
      .send();
  });
}
