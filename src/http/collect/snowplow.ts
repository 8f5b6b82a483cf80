import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../../config/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import { withChoices } from '../../domain/consent-categories.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { mapSnowplowPayload, payloadItems } from '../../domain/snowplow-mapping.js';
import { validateEvent } from '../../domain/validation.js';
import type { EventOutcome } from '../../ingest/process-batch.js';
import { HttpError } from '../errors.js';
import { requestConsent, serverConsent } from '../request/consent.js';
import { isSafeBrowserId, readBrowserId, requestUser, setBrowserId } from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { corsHeaders } from './beacon.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { headOnly } from './pixel-hit.js';

/** Snowplow's default POST path (tracker protocol 2) and GET pixel path. */
export const SNOWPLOW_POST_PATH = '/com.snowplowanalytics.snowplow/tp2';
export const SNOWPLOW_GET_PATH = '/com.snowplowanalytics.snowplow/i';
/** Items one POST may carry; trackers batch by bytes (default 40 KB), far below this. */
const MAX_ITEMS = 1000;

interface ItemError {
  index: number;
  field: string;
  message: string;
}

/** The tracker's id a browser may get as its `ptid`, and the environment it came in. */
interface SharedCookie {
  id: string;
  env: EnvironmentConfig;
}

/** Maps and validates payload items; what the browser's request shows fills what they lack. */
function toEvents(
  s: Services,
  req: FastifyRequest,
  items: unknown[],
): { good: TrackedEvent[]; errors: ItemError[]; cookieFrom?: SharedCookie } {
  const good: TrackedEvent[] = [];
  const errors: ItemError[] = [];
  const nowMs = s.nowMs();
  const seen = requestUser(req);
  const traffic = classifyTraffic(req);
  let cookieFrom: SharedCookie | undefined;
  items.forEach((item, index) => {
    const mapped = mapSnowplowPayload(item);
    if (mapped.ok === 'skip') return;
    if (!mapped.ok) {
      for (const e of mapped.errors) errors.push({ index, ...e });
      return;
    }
    const env = s.environment(mapped.app_id);
    if (!env) {
      errors.push({ index, field: 'aid', message: `no environment has the id ${mapped.app_id}` });
      return;
    }
    const origin = req.headers.origin;
    if (origin && !env.allowed_origins.includes('*') && !env.allowed_origins.includes(origin)) {
      errors.push({ index, field: 'aid', message: `origin ${origin} is not allowed` });
      return;
    }
    const user = mapped.event.user as UserKeys;
    const fill: UserKeys = {};
    if (!mapped.server) {
      if (!user.ip && seen.ip) fill.ip = seen.ip;
      if (!user.user_agent && seen.user_agent) fill.user_agent = seen.user_agent;
      if (seen.cookie_id) fill.cookie_id = seen.cookie_id;
    }
    const r = validateEvent(
      { ...mapped.event, env_id: env.id },
      {
        nowMs,
        source: mapped.server ? 'server' : 'tag',
        envId: env.id,
        newId: () => s.newId('gen_'),
        requestUser: fill,
      },
    );
    if (!r.ok) {
      for (const e of r.errors)
        errors.push({ index, ...e, field: mapped.sources[e.field] ?? e.field });
      return;
    }
    // Consent decided as for our own endpoints (issue 6).
    const stated = withChoices(r.event.consent, mapped.consentChoices, env.consent_categories);
    r.event.consent = mapped.server ? serverConsent(env, stated) : requestConsent(req, env, stated);
    // A browser's user agent says bot or prefetch: stored flagged, never credited, as on
    // the tag's beacon. An app's or a server's agent is its HTTP client's (okhttp, Java),
    // which says nothing of the person.
    const web = !mapped.server && ((item as { p?: unknown })?.p ?? 'web') === 'web';
    if (web && traffic !== 'human') {
      r.event.traffic = traffic;
      s.metrics.invalidHits.inc({ endpoint: 'snowplow', reason: traffic });
    } else if (!mapped.server && adsPermitted(r.event.consent) && r.event.user.anonymous_id)
      cookieFrom ??= { id: r.event.user.anonymous_id, env };
    good.push(r.event);
  });
  return { good, errors, cookieFrom };
}

/** Like the tag's beacon: a browser without `ptid` gets the tracker's first-party id as its cookie. */
function shareCookie(req: FastifyRequest, reply: FastifyReply, from: SharedCookie | undefined) {
  if (from && !readBrowserId(req) && isSafeBrowserId(from.id))
    setBrowserId(req, reply, from.id, from.env);
}

/**
 * Snowplow collector endpoints: `POST /com.snowplowanalytics.snowplow/tp2` (payload_data) and
 * the GET pixel (`/com.snowplowanalytics.snowplow/i`, and `/i` when it carries `e=`, see
 * url-rewrite.ts). The app id (`aid`) names the environment.
 */
export function snowplowRoutes(app: FastifyInstance, s: Services): void {
  app.options(SNOWPLOW_POST_PATH, async (req, reply) => {
    corsHeaders(s, req, reply);
    reply.header(
      'access-control-allow-headers',
      'authorization, content-type, x-retry-count, sp-anonymous',
    );
    return reply.status(204).send();
  });

  app.post(SNOWPLOW_POST_PATH, async (req, reply) => {
    s.metrics.hits.inc({ endpoint: 'snowplow' });
    corsHeaders(s, req, reply);
    let body = req.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        throw new HttpError(400, 'invalid_json', 'the body is not JSON');
      }
    }
    const items = payloadItems(body);
    if (!items || items.length === 0 || items.length > MAX_ITEMS)
      throw new HttpError(400, 'invalid_body', 'expected a payload_data envelope', [
        { field: 'schema', message: 'must be iglu:com.snowplowanalytics.snowplow/payload_data' },
        { field: 'data', message: `must be a list of 1 to ${MAX_ITEMS} events` },
      ]);
    const { good, errors, cookieFrom } = toEvents(s, req, items);
    if (errors.length > 0)
      s.metrics.invalidHits.inc(
        { endpoint: 'snowplow', reason: 'invalid_event' },
        new Set(errors.map((e) => e.index)).size,
      );
    let outcomes: EventOutcome[];
    try {
      outcomes = await s.pipeline.recordEvents(good);
    } catch (e) {
      req.log.error({ err: e }, 'snowplow batch not committed');
      throw new HttpError(
        503,
        'store_unavailable',
        'events could not be stored; retry the request',
      );
    }
    s.worker.wake();
    shareCookie(req, reply, cookieFrom);
    const duplicates = outcomes.filter((o) => o.status === 'duplicate').length;
    return reply.send({ accepted: outcomes.length - duplicates, duplicates, errors });
  });

  app.get(SNOWPLOW_GET_PATH, async (req, reply) => {
    const head = headOnly(s, 'snowplow', req.method);
    if (!head) s.metrics.hits.inc({ endpoint: 'snowplow' });
    // Tracker v4 sends GET events with fetch and credentials: it needs CORS like the POST.
    corsHeaders(s, req, reply);
    reply.headers(GIF_HEADERS);
    if (head) return reply.header('x-pixeltrail-warnings', 'head').send(TRANSPARENT_GIF);
    const { good, errors, cookieFrom } = toEvents(s, req, [req.query]);
    if (errors.length > 0) {
      s.metrics.invalidHits.inc({ endpoint: 'snowplow', reason: 'invalid_event' });
      // A pixel can only answer with an image; its problems travel in a header.
      reply.header(
        'x-pixeltrail-warnings',
        errors.map((e) => `${e.field} ${e.message}`).join(', '),
      );
    }
    shareCookie(req, reply, cookieFrom);
    if (good.length > 0) {
      s.pipeline.recordEvents(good).then(
        () => s.worker.wake(),
        // A failed commit is counted by the pipeline (pixeltrail_writes_failed_total).
        () => undefined,
      );
    }
    return reply.send(TRANSPARENT_GIF);
  });
}
