import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig, EnvironmentConfig } from '../../config/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import { withChoices } from '../../domain/consent-categories.js';
import type { Consent, TrackedEvent, UserKeys } from '../../domain/event.js';
import {
  MAX_SEGMENT_BATCH_BYTES,
  MAX_SEGMENT_EVENT_BYTES,
  mapSegmentMessage,
  type SegmentType,
} from '../../domain/segment-mapping.js';
import { validateEvent } from '../../domain/validation.js';
import type { EventOutcome } from '../../ingest/process-batch.js';
import { HttpError } from '../errors.js';
import { requestConsent, serverConsent } from '../request/consent.js';
import { isSafeBrowserId, readBrowserId, requestUser, setBrowserId } from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { corsHeaders } from './beacon.js';

/** Messages one batch may carry (the byte limit usually comes first). */
const MAX_BATCH_MESSAGES = 1000;

/** Server libraries' paths (`analytics-node`, HTTP API) → the message type they carry. */
const SERVER_PATHS: Record<string, SegmentType> = {
  track: 'track',
  identify: 'identify',
  page: 'page',
  screen: 'screen',
  alias: 'alias',
  group: 'group',
};
/** `@segment/analytics-next`'s short paths, posted from browsers as `text/plain`. */
const BROWSER_PATHS: Record<string, SegmentType> = {
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  a: 'alias',
  g: 'group',
};

interface BatchError {
  index: number;
  field: string;
  message: string;
}

type Obj = Record<string, unknown>;

function parse(body: unknown): Obj {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'invalid_json', 'the body is not JSON');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'invalid_body', 'the body must be a JSON object');
  return parsed as Obj;
}

/**
 * The write key, as Segment takes it: HTTP Basic with the key as user name and no password;
 * analytics.js also puts `writeKey` in the body. Bearer is accepted like `/v1/events`.
 */
function writeKeyOf(req: FastifyRequest, body: Obj): string | undefined {
  const auth = req.headers.authorization ?? '';
  const basic = /^Basic\s+(\S+)$/i.exec(auth)?.[1];
  if (basic) return Buffer.from(basic, 'base64').toString('utf8').split(':')[0];
  const bearer = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
  if (bearer) return bearer;
  return typeof body.writeKey === 'string' ? body.writeKey : undefined;
}

function authorize(s: Services, req: FastifyRequest, body: Obj): EnvironmentConfig {
  const key = writeKeyOf(req, body);
  const env = key ? s.environmentByWriteKey(key) : undefined;
  if (!env)
    throw new HttpError(
      401,
      'unauthorized',
      'a valid write key is required: HTTP Basic with the write key as user name',
    );
  const origin = req.headers.origin;
  if (origin && !env.allowed_origins.includes('*') && !env.allowed_origins.includes(origin))
    throw new HttpError(403, 'origin_not_allowed', `origin ${origin} is not allowed`);
  return env;
}

function tooLarge(what: string, limit: number): HttpError {
  return new HttpError(400, 'payload_too_large', `${what} is over the ${limit / 1024} KB limit`);
}

/** The size of `v` as JSON; null for a value nested too deep to write out at all. */
function bytes(v: unknown): number | null {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? '');
  } catch {
    return null;
  }
}

/** What the message's context lacks, filled from a browser's own request. */
function browserUser(req: FastifyRequest): UserKeys {
  const { ip, user_agent, cookie_id } = requestUser(req);
  return { ip, user_agent, cookie_id };
}

/**
 * Maps and validates messages; a batch's `context` and `integrations` apply to each message
 * that lacks its own (Segment's batch semantics).
 */
function toEvents(
  s: Services,
  env: EnvironmentConfig,
  messages: unknown[],
  pathType: SegmentType | undefined,
  fromBrowser: UserKeys | undefined,
  consentOf: (stated: Consent) => Consent,
): { good: TrackedEvent[]; errors: BatchError[] } {
  const good: TrackedEvent[] = [];
  const errors: BatchError[] = [];
  const nowMs = s.nowMs();
  messages.forEach((msg, index) => {
    const size = bytes(msg);
    if (size === null || size > MAX_SEGMENT_EVENT_BYTES) {
      const message =
        size === null ? 'message nests too deep to be read' : 'message is over the 32 KB limit';
      errors.push({ index, field: '', message });
      return;
    }
    const mapped = mapSegmentMessage(msg, pathType);
    if (!mapped.ok) {
      for (const e of mapped.errors) errors.push({ index, ...e });
      return;
    }
    const user = mapped.event.user as UserKeys;
    // Browser requests: the message's own context wins, the request fills what it lacks.
    const requestKeys = fromBrowser
      ? Object.fromEntries(
          Object.entries(fromBrowser).filter(([k]) => user[k as keyof UserKeys] === undefined),
        )
      : undefined;
    const r = validateEvent(mapped.event, {
      nowMs,
      source: fromBrowser ? 'tag' : 'server',
      envId: env.id,
      newId: () => s.newId('gen_'),
      requestUser: requestKeys,
    });
    if (!r.ok) {
      for (const e of r.errors)
        errors.push({ index, ...e, field: mapped.sources[e.field] ?? e.field });
      return;
    }
    r.event.consent = consentOf(
      withChoices(r.event.consent, mapped.consentChoices, env.consent_categories),
    );
    good.push(r.event);
  });
  return { good, errors };
}

async function ingest(
  s: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  messages: unknown[],
  pathType: SegmentType | undefined,
  env: EnvironmentConfig,
  browser: boolean,
) {
  s.metrics.hits.inc({ endpoint: 'segment' });
  // Browsers: bots and prefetches are stored flagged and counted, as on the tag's beacon;
  // they are never credited and get no cookie.
  const traffic = browser ? classifyTraffic(req) : 'human';
  if (traffic !== 'human')
    s.metrics.invalidHits.inc({ endpoint: 'segment', reason: traffic }, messages.length);
  const { good, errors } = toEvents(
    s,
    env,
    messages,
    pathType,
    browser ? browserUser(req) : undefined,
    // Consent decided as for our own endpoints (issue 6): a browser call by its headers and
    // the environment's default, a server call by what it states and the default.
    (c) => (browser ? requestConsent(req, env, c) : serverConsent(env, c)),
  );
  if (errors.length > 0)
    s.metrics.invalidHits.inc(
      { endpoint: 'segment', reason: 'invalid_event' },
      new Set(errors.map((e) => e.index)).size,
    );
  // A single call whose one message is unusable is refused whole, naming each bad field.
  if (pathType && good.length === 0)
    throw new HttpError(
      400,
      'invalid_event',
      'the message was not accepted',
      errors.map(({ field, message }) => ({ field, message })),
    );
  if (traffic !== 'human') for (const e of good) e.traffic = traffic;
  let outcomes: EventOutcome[];
  try {
    outcomes = await s.pipeline.recordEvents(good);
  } catch (e) {
    req.log.error({ err: e }, 'segment batch not committed');
    throw new HttpError(503, 'store_unavailable', 'events could not be stored; retry the request');
  }
  s.worker.wake();
  if (browser && traffic === 'human') {
    // Like the tag's beacon: the browser's Segment id becomes the collector's first-party cookie.
    const anon = good.find((e) => adsPermitted(e.consent))?.user.anonymous_id;
    if (!readBrowserId(req) && isSafeBrowserId(anon)) setBrowserId(req, reply, anon, env);
  }
  const duplicates = outcomes.filter((o) => o.status === 'duplicate').length;
  return reply.send({ success: true, accepted: outcomes.length - duplicates, duplicates, errors });
}

/**
 * Segment's HTTP Tracking API: `/v1/{track,identify,page,screen,alias,group,batch}` for server
 * libraries and the short `/v1/{t,i,p,s,a,g,b}` of analytics.js / analytics-next in browsers.
 * Messages take the one ingest path; answers come after the commit.
 */
export function segmentApi(app: FastifyInstance, s: Services): void {
  const single =
    (type: SegmentType, browser: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      if (browser) corsHeaders(s, req, reply);
      if (Number(req.headers['content-length']) > MAX_SEGMENT_EVENT_BYTES)
        throw tooLarge('the message', MAX_SEGMENT_EVENT_BYTES);
      const body = parse(req.body);
      if ((bytes(body) ?? Number.POSITIVE_INFINITY) > MAX_SEGMENT_EVENT_BYTES)
        throw tooLarge('the message', MAX_SEGMENT_EVENT_BYTES);
      const env = authorize(s, req, body);
      return ingest(s, req, reply, [body], type, env, browser);
    };
  const batch = (browser: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (browser) corsHeaders(s, req, reply);
    if (Number(req.headers['content-length']) > MAX_SEGMENT_BATCH_BYTES)
      throw tooLarge('the batch', MAX_SEGMENT_BATCH_BYTES);
    const body = parse(req.body);
    // A batch nested too deep to measure is no larger than its Content-Length: its messages
    // are measured one by one below, and only the deep one is refused.
    if ((bytes(body) ?? 0) > MAX_SEGMENT_BATCH_BYTES)
      throw tooLarge('the batch', MAX_SEGMENT_BATCH_BYTES);
    const env = authorize(s, req, body);
    if (!Array.isArray(body.batch) || body.batch.length === 0)
      throw new HttpError(400, 'invalid_body', 'batch must be a non-empty list', [
        { field: 'batch', message: 'must be a non-empty list of messages' },
      ]);
    if (body.batch.length > MAX_BATCH_MESSAGES)
      throw new HttpError(400, 'invalid_body', `at most ${MAX_BATCH_MESSAGES} messages a batch`, [
        { field: 'batch', message: `must hold at most ${MAX_BATCH_MESSAGES} messages` },
      ]);
    const shared = { context: body.context, integrations: body.integrations };
    const messages = body.batch.map((m: unknown) =>
      typeof m === 'object' && m !== null && !Array.isArray(m)
        ? {
            ...shared,
            ...(m as Obj),
            context: { ...(shared.context as Obj), ...((m as Obj).context as Obj) },
          }
        : m,
    );
    return ingest(s, req, reply, messages, undefined, env, browser);
  };
  const preflight = async (req: FastifyRequest, reply: FastifyReply) => {
    corsHeaders(s, req, reply);
    return reply.status(204).send();
  };

  for (const [path, type] of Object.entries(SERVER_PATHS))
    app.post(`/v1/${path}`, single(type, false));
  app.post('/v1/batch', batch(false));
  app.post('/v1/import', batch(false));
  for (const [path, type] of Object.entries(BROWSER_PATHS)) {
    app.options(`/v1/${path}`, preflight);
    app.post(`/v1/${path}`, single(type, true));
  }
  app.options('/v1/b', preflight);
  app.post('/v1/b', batch(true));
  app.get<{ Params: { key: string } }>('/v1/projects/:key/settings', async (req, reply) => {
    corsHeaders(s, req, reply);
    const env = s.environmentByWriteKey(req.params.key);
    if (!env) throw new HttpError(404, 'not_found', 'no environment has this write key');
    const api = settingsApiBase(s.config, req);
    if (!api.fromRequest)
      return reply
        .header('cache-control', 'public, max-age=300')
        .send(cdnSettings(req.params.key, api));
    // Built from the request's Host: a shared cache must not serve it to another host.
    const prior = reply.getHeader('vary');
    const vary = [
      'Host',
      ...(s.config.trust_proxy ? ['X-Forwarded-Host', 'X-Forwarded-Proto'] : []),
    ];
    return reply
      .header('vary', [prior, ...vary].filter(Boolean).join(', '))
      .header('cache-control', 'private, max-age=300')
      .send(cdnSettings(req.params.key, api));
  });
}

/** Where analytics.js is told to send: host and path, scheme, and whether the request said so. */
interface ApiBase {
  host: string;
  protocol: string;
  fromRequest: boolean;
}

/**
 * The collector's address for analytics.js: the configured public URL when there is one
 * (`PIXELTRAIL_PUBLIC_URL` / `public_url`), so no header can change an answer that CDNs
 * cache; else the request's own host and scheme, under the path prefix it came by.
 */
function settingsApiBase(config: AppConfig, req: FastifyRequest): ApiBase {
  if (config.public_url_configured) {
    const url = new URL(config.public_url);
    const path = url.pathname.replace(/\/+$/, '');
    return { host: `${url.host}${path}`, protocol: url.protocol.slice(0, -1), fromRequest: false };
  }
  const prefix = config.path_prefix;
  const viaPrefix = prefix !== '' && req.originalUrl.startsWith(`${prefix}/`);
  return {
    host: `${req.host}${viaPrefix ? prefix : ''}`,
    protocol: req.protocol,
    fromRequest: true,
  };
}

/**
 * What analytics.js loads from its CDN (`{cdnURL}/v1/projects/{writeKey}/settings`): only
 * the Segment.io destination, pointed back at this collector, so
 * `cdnURL: 'https://shop.example/metrics-xyz'` is the whole browser setup.
 */
function cdnSettings(writeKey: string, api: ApiBase): Obj {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${api.host}/v1`,
        protocol: api.protocol,
      },
    },
    plan: { track: { __default: { enabled: true } } },
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    remotePlugins: [],
  };
}
