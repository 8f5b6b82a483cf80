import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../config/config-types.js';
import { decideRedirect, verifyClick } from '../domain/click-link.js';
import { adsPermitted } from '../domain/consent.js';
import type { Touch, TouchKind, Traffic } from '../domain/event.js';
import { verifyEventSignature } from '../domain/event-signature.js';
import { validateEvent } from '../domain/validation.js';
import { deviceTouchId } from './device-touch.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { requestConsent } from './request-consent.js';
import { readBrowserId, requestUser, setBrowserId } from './request-identity.js';
import type { Services } from './services.js';
import { classifyTraffic } from './traffic.js';

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

/**
 * Gives the browser its id cookie when it has none and may be given one: only people who
 * consented get a cookie; bots and prefetches neither get nor use one.
 */
function browserId(
  s: Services,
  env: EnvironmentConfig,
  req: FastifyRequest,
  reply: FastifyReply,
  allowed: boolean,
  traffic: Traffic,
): string | null {
  if (!allowed || traffic !== 'human') return null;
  const existing = readBrowserId(req);
  if (existing) return existing;
  const id = s.newId('');
  setBrowserId(req, reply, id, env);
  return id;
}

/** Query as plain strings (first value of repeated keys dropped: a signature covers one). */
function flatQuery(q: Query): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string') flat[k] = v;
  return flat;
}

function touchFrom(
  env: EnvironmentConfig,
  kind: TouchKind,
  touchId: string,
  q: Query,
  req: FastifyRequest,
  anon: string | null,
  nowS: number,
  traffic: Traffic,
): Touch {
  return {
    ...(traffic === 'human' ? {} : { traffic }),
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
): string | null {
  if (!param(q, 'env_id')) return 'missing_env_id';
  if (!env) return 'unknown_env';
  const dest = param(q, 'dest_id');
  if (idParam === 'imp_id' && !dest) return 'missing_dest_id';
  if (dest && !env.destinations.some((d) => d.id === dest)) return 'unknown_dest';
  if (!param(q, idParam)) return `missing_${idParam}`;
  return null;
}

/** `/i` impression pixel, `/p` event pixel and `/c` click redirect (DESIGN §5). */
export function pixelRoutes(app: FastifyInstance, s: Services): void {
  // Refused or failed writes are counted by the pipeline; a pixel never reports them.
  const swallow = () => undefined;

  app.get('/i', async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'i' });
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    const problem = pixelProblem(env, q, 'imp_id');
    if (problem || !env) {
      s.metrics.invalidHits.inc({ endpoint: 'i', reason: problem ?? 'unknown_env' });
      return sendGif(reply, [problem ?? 'unknown_env']);
    }
    const traffic = classifyTraffic(req);
    const allowed = adsPermitted(requestConsent(req, env, undefined, q));
    const anon = browserId(s, env, req, reply, allowed, traffic);
    // Counted in aggregate, never kept for attribution.
    if (!allowed) {
      s.metrics.invalidHits.inc({ endpoint: 'i', reason: 'opted_out' });
      return sendGif(reply, ['opted_out']);
    }
    const touch = touchFrom(
      env,
      'impression',
      param(q, 'imp_id') as string,
      q,
      req,
      anon,
      Math.floor(s.nowMs() / 1000),
      traffic,
    );
    s.pipeline.recordTouch(touch);
    if (traffic !== 'human') s.metrics.invalidHits.inc({ endpoint: 'i', reason: traffic });
    return sendGif(reply, traffic === 'human' ? [] : [traffic]);
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
    const traffic = classifyTraffic(req);
    const consent = requestConsent(req, env, undefined, q);
    const anon = browserId(s, env, req, reply, adsPermitted(consent), traffic);
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
    const event = result.event;
    event.consent = consent;
    event.browser_sent = true;
    if (traffic !== 'human') {
      event.traffic = traffic;
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: traffic });
    }
    const warnings = traffic === 'human' ? [...event.warnings] : [...event.warnings, traffic];
    const sig = param(q, 'sig');
    if (sig && verifyEventSignature(env.click_secret, event, sig)) event.verified = 'signature';
    else if (sig) warnings.push('bad_signature');
    s.pipeline.recordEvents([event]).then(() => s.worker.wake(), swallow);
    return sendGif(reply, warnings);
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
    const flat = flatQuery(q);
    const signed = verifyClick(env.click_secret, flat);
    if (flat.sig && !signed) return refuse('bad_signature', 'the link signature does not match');
    // `exp` (Unix s) is covered by the signature, so an expiring link cannot be extended.
    if (signed && flat.exp && !(Number(flat.exp) * 1000 > s.nowMs()))
      return refuse('link_expired', 'the link has expired');
    const decision = decideRedirect(flat.url, signed, env.click_url_hosts);
    if (!decision.ok)
      return refuse(decision.reason, `url is not a permitted redirect target (${decision.reason})`);
    const dest = param(q, 'dest_id');
    if (dest && !env.destinations.some((d) => d.id === dest))
      s.metrics.invalidHits.inc({ endpoint: 'c', reason: 'unknown_dest' });
    const traffic = classifyTraffic(req);
    const allowed = adsPermitted(requestConsent(req, env, undefined, q));
    const anon = browserId(s, env, req, reply, allowed, traffic);
    // A prefetch or prerender of a link is not a click; a scanner's is kept, flagged.
    if (allowed && traffic !== 'prefetch') {
      const clickId = param(q, 'click_id') ?? s.newId('clk_');
      const nowS = Math.floor(s.nowMs() / 1000);
      s.pipeline.recordTouch(touchFrom(env, 'click', clickId, q, req, anon, nowS, traffic));
    }
    if (traffic !== 'human') s.metrics.invalidHits.inc({ endpoint: 'c', reason: traffic });
    return reply
      .status(302)
      .header('cache-control', 'no-store')
      .header('location', decision.location)
      .send();
  });
}
