import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../../config/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import type { TrackedEvent } from '../../domain/event.js';
import { verifyEventSignature } from '../../domain/event-signature.js';
import { validateEvent } from '../../domain/validation.js';
import { requestConsent } from '../request/consent.js';
import {
  clearBrowserId,
  isSafeBrowserId,
  readBrowserId,
  requestUser,
  setBrowserId,
} from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';

/** Events one beacon may carry; the tag sends a handful. */
const MAX_BEACON_EVENTS = 50;
/** Beacon bodies above this are refused (413): the tag splits its batches at 16 KB. */
export const MAX_BEACON_BYTES = 64 * 1024;

function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (!origin) return true;
  return allowed.includes('*') || allowed.includes(origin);
}

/**
 * CORS for credentialed beacons: `*` is refused by browsers when cookies ride along, so the
 * Origin is reflected when some environment allows it (DESIGN §3).
 */
/**
 * Denied only by the environment's `denied` default: the person said nothing yet (the tag's
 * first PageView before the page's CMP answers), which withdraws nothing they agreed to.
 */
function undecided(signals: readonly string[] = []): boolean {
  return (
    signals.includes('default_denied') &&
    signals.every((x) => x === 'default_denied' || x === 'gpp_invalid')
  );
}

export function corsHeaders(s: Services, req: FastifyRequest, reply: FastifyReply): void {
  const origin = req.headers.origin;
  if (!origin || !s.config.environments.some((e) => originAllowed(e.allowed_origins, origin)))
    return;
  reply.header('access-control-allow-origin', origin);
  reply.header('access-control-allow-credentials', 'true');
  reply.header('access-control-allow-methods', 'POST, OPTIONS');
  reply.header('access-control-allow-headers', 'authorization, content-type, x-retry-count');
  reply.header('access-control-max-age', '600');
  reply.header('vary', 'Origin');
}

function parseBody(body: unknown): unknown[] | null {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return null;
    }
  }
  if (Array.isArray(parsed)) return parsed;
  if (typeof parsed === 'object' && parsed !== null) {
    const events = (parsed as { events?: unknown }).events;
    return Array.isArray(events) ? events : [parsed];
  }
  return null;
}

/** `POST /e`, the tag's beacon: always 204; what cannot be used is counted, never shown. */
export function beaconRoute(app: FastifyInstance, s: Services): void {
  // In a scope of its own: whatever the body's type (sendBeacon's Blob may have none, a
  // form post another), it reaches the route as text, and a body the route cannot read,
  // even one refused before it (too large), is counted and answered 204 like any other.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    // The rate limiter's 429 keeps its Retry-After (the app's handler answers it).
    if (status === 429) throw err;
    s.metrics.hits.inc({ endpoint: 'e' });
    const reason = status === 413 ? 'too_large' : status < 500 ? 'bad_body' : 'error';
    if (reason === 'error') req.log.error({ err }, 'beacon request failed');
    s.metrics.invalidHits.inc({ endpoint: 'e', reason });
    corsHeaders(s, req, reply);
    reply.header('cache-control', 'no-store');
    return reply.status(204).send();
  });
  app.options('/e', async (req, reply) => {
    corsHeaders(s, req, reply);
    return reply.status(204).send();
  });

  app.post('/e', { bodyLimit: MAX_BEACON_BYTES }, async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'e' });
    corsHeaders(s, req, reply);
    reply.header('cache-control', 'no-store');
    const invalid = (reason: string, n = 1) =>
      s.metrics.invalidHits.inc({ endpoint: 'e', reason }, n);
    const raw = parseBody(req.body);
    if (!raw) {
      invalid('bad_body');
      return reply.status(204).send();
    }
    const traffic = classifyTraffic(req);
    if (traffic !== 'human') invalid(traffic, raw.length);
    const who = requestUser(req);
    const good: TrackedEvent[] = [];
    let cookieFrom: string | undefined;
    let cookieEnv: EnvironmentConfig | undefined;
    let deniedEnv: EnvironmentConfig | undefined;
    for (const item of raw.slice(0, MAX_BEACON_EVENTS)) {
      const envId = (item as { env_id?: unknown })?.env_id;
      const env = typeof envId === 'string' ? s.environment(envId) : undefined;
      if (!env) {
        invalid(envId ? 'unknown_env' : 'missing_env_id');
        continue;
      }
      if (!originAllowed(env.allowed_origins, req.headers.origin)) {
        invalid('origin_not_allowed');
        continue;
      }
      const result = validateEvent(item, {
        nowMs: s.nowMs(),
        source: 'tag',
        envId: env.id,
        newId: () => s.newId('gen_'),
        requestUser: who,
        ipFromRequest: true,
      });
      if (!result.ok) {
        invalid('invalid_event');
        continue;
      }
      const e = result.event;
      e.consent = requestConsent(req, env, e.consent, req.query as Record<string, string>);
      e.browser_sent = true;
      if (traffic !== 'human') e.traffic = traffic;
      const sig = (item as { sig?: unknown }).sig;
      if (sig !== undefined && verifyEventSignature(env.click_secret, e, sig))
        e.verified = 'signature';
      if (adsPermitted(e.consent) && traffic === 'human' && !cookieFrom) {
        cookieFrom = e.user.anonymous_id;
        cookieEnv = env;
      } else if (!adsPermitted(e.consent) && !undecided(e.consent.signals)) deniedEnv ??= env;
      good.push(e);
    }
    if (raw.length > MAX_BEACON_EVENTS) invalid('too_many_events', raw.length - MAX_BEACON_EVENTS);
    // The tag's first-party id becomes the collector's cookie too, so ad pixels served
    // later from this host carry the same id the shop's pages send.
    if (!readBrowserId(req) && isSafeBrowserId(cookieFrom) && cookieEnv)
      setBrowserId(req, reply, cookieFrom, cookieEnv);
    // The shop's own visitor withdrew consent: the collector's cookie goes with the tag's ids.
    if (readBrowserId(req) && deniedEnv && !cookieEnv && traffic === 'human')
      clearBrowserId(req, reply, deniedEnv);
    if (good.length > 0) {
      // Refusals and failed commits are counted by the pipeline; the page never waits.
      s.pipeline.recordEvents(good).then(
        () => s.worker.wake(),
        () => undefined,
      );
    }
    return reply.status(204).send();
  });
}
