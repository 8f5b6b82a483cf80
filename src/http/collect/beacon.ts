import type { FastifyInstance } from 'fastify';
import { type Arrival, ingest, type RequestFacts } from '../../ingest/ingest.js';
import { errorStatus } from '../errors.js';
import { requestConsent } from '../request/consent.js';
import { type BrowserRequest, type HeaderSink, requestUser } from '../request/identity.js';
import type { Query } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { originAllowed, shareCookie } from './browser-cookie.js';

/** Events one beacon may carry; the tag sends a handful. */
const MAX_BEACON_EVENTS = 50;
/** Beacon bodies above this are refused (413): the tag splits its batches at 16 KB. */
export const MAX_BEACON_BYTES = 64 * 1024;

/**
 * CORS for credentialed beacons: `*` is refused by browsers when cookies ride along, so the
 * Origin is reflected when some environment allows it (DESIGN §3). These are the headers a
 * CORS request's answer is read by: the Fetch standard reads Allow-Methods, Allow-Headers and
 * Max-Age from a preflight's answer only (https://fetch.spec.whatwg.org/#http-responses), so
 * they go on the OPTIONS answers (preflightHeaders), not on every beacon's (issue 22).
 * Returns whether the origin was allowed.
 */
export function corsHeaders(
  s: Services,
  req: Pick<BrowserRequest, 'headers'>,
  reply: HeaderSink,
): boolean {
  const origin = req.headers.origin;
  if (!origin || !s.config.environments.some((e) => originAllowed(e.allowed_origins, origin)))
    return false;
  reply.header('access-control-allow-origin', origin);
  reply.header('access-control-allow-credentials', 'true');
  reply.header('vary', 'Origin');
  return true;
}

/**
 * The answer to a CORS preflight (`OPTIONS`): corsHeaders, and what the browser may send and
 * for how long it may keep this answer. `allowHeaders`: the request headers taken.
 */
export function preflightHeaders(
  s: Services,
  req: Pick<BrowserRequest, 'headers'>,
  reply: HeaderSink,
  allowHeaders = 'authorization, content-type, x-retry-count',
  methods = 'POST, OPTIONS',
): void {
  if (!corsHeaders(s, req, reply)) return;
  reply.header('access-control-allow-methods', methods);
  reply.header('access-control-allow-headers', allowHeaders);
  reply.header('access-control-max-age', '600');
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

/**
 * The work of `POST /e` for a body read as text (or undefined when none came): counts the
 * hit and what cannot be used, stores the rest, and sets the answer's headers on `reply`.
 * The answer is always 204, sent by the caller: the Fastify route below, or the fast path
 * (beacon-fast-path.ts) for the plain requests, which must answer exactly as the route does.
 */
export async function collectBeacon(
  s: Services,
  req: BrowserRequest,
  query: Query,
  body: unknown,
  reply: HeaderSink,
): Promise<void> {
  s.metrics.hit('e');
  corsHeaders(s, req, reply);
  reply.header('cache-control', 'no-store');
  const invalid = (reason: string, n = 1) =>
    s.metrics.invalidHits.inc({ endpoint: 'e', reason }, n);
  const raw = parseBody(body);
  if (!raw) {
    invalid('bad_body');
    return;
  }
  const traffic = classifyTraffic(req);
  if (traffic !== 'human') invalid(traffic, raw.length);
  const facts: RequestFacts = {
    source: 'tag',
    browserConsent: (env, stated) => requestConsent(req, env, stated, query),
    traffic,
    seen: requestUser(req),
    ipFromRequest: true,
    browserSent: true,
  };
  const arrivals: Arrival[] = [];
  raw.slice(0, MAX_BEACON_EVENTS).forEach((event, index) => {
    const envId = (event as { env_id?: unknown })?.env_id;
    const env = typeof envId === 'string' ? s.environment(envId) : undefined;
    if (!env) invalid(envId ? 'unknown_env' : 'missing_env_id');
    else if (!originAllowed(env.allowed_origins, req.headers.origin)) invalid('origin_not_allowed');
    else arrivals.push({ index, env, event, facts, signature: (event as { sig?: unknown }).sig });
  });
  if (raw.length > MAX_BEACON_EVENTS) invalid('too_many_events', raw.length - MAX_BEACON_EVENTS);
  // Answered after the commit, as the APIs are: the page never waits for a beacon
  // (sendBeacon, keepalive fetch), and a server answering each beacon at once, in between
  // the slices of the batch it commits, spent 172-186 µs a beacon against 121-129 when it
  // answers each group after its commit (bench/RESULTS.md, issue 22). Refusals and failed
  // commits are counted by the pipeline and still answered 204.
  const report = await ingest(s, arrivals, 'commit');
  if (report.errors.length > 0)
    invalid('invalid_event', new Set(report.errors.map((e) => e.index)).size);
  shareCookie(s, req, reply, report.events, traffic);
}

/**
 * A beacon whose body could not be read (`status` 4xx: too large, bad length) or whose work
 * failed (5xx): counted, and answered 204 with the headers set here, as every beacon is.
 * Returns the reason counted ('error' is for the caller to log).
 */
export function beaconFailed(
  s: Services,
  req: Pick<BrowserRequest, 'headers'>,
  status: number,
  reply: HeaderSink,
): string {
  // A body refused before the route ran (4xx) was not counted yet; a failure inside it
  // (5xx, thrown from collectBeacon) was, by collectBeacon itself.
  if (status < 500) s.metrics.hit('e');
  const reason = status === 413 ? 'too_large' : status < 500 ? 'bad_body' : 'error';
  s.metrics.invalidHits.inc({ endpoint: 'e', reason });
  corsHeaders(s, req, reply);
  reply.header('cache-control', 'no-store');
  return reason;
}

/** `POST /e`, the tag's beacon: always 204; what cannot be used is counted, never shown. */
export function beaconRoute(app: FastifyInstance, s: Services): void {
  // In a scope of its own: whatever the body's type (sendBeacon's Blob may have none, a
  // form post another), it reaches the route as text, and a body the route cannot read,
  // even one refused before it (too large), is counted and answered 204 like any other.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: unknown, req, reply) => {
    const status = errorStatus(err);
    // The rate limiter's 429 keeps its Retry-After (the app's handler answers it).
    if (status === 429) throw err;
    if (beaconFailed(s, req, status, reply) === 'error')
      req.log.error({ err }, 'beacon request failed');
    return reply.status(204).send();
  });
  app.options('/e', async (req, reply) => {
    preflightHeaders(s, req, reply);
    return reply.status(204).send();
  });

  app.post('/e', { bodyLimit: MAX_BEACON_BYTES }, async (req, reply) => {
    await collectBeacon(s, req, req.query as Query, req.body, reply);
    return reply.status(204).send();
  });
}
