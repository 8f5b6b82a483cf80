import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import {
  MAX_SEGMENT_BATCH_BYTES,
  MAX_SEGMENT_EVENT_BYTES,
  type SegmentType,
} from '../../domain/segment-mapping.js';
import { type IngestReport, ingest, type RequestFacts } from '../../ingest/ingest.js';
import { HttpError, refusalError } from '../errors.js';
import { requestConsent } from '../request/consent.js';
import { requestUser } from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { corsHeaders, preflightHeaders } from './beacon.js';
import { adoptBrowserId } from './browser-cookie.js';
import { countInvalid } from './invalid-hits.js';
import {
  authorize,
  BROWSER_PATHS,
  batchMessages,
  bytes,
  parseBody,
  SERVER_PATHS,
  singleMessageSize,
  toArrivals,
  tooLarge,
} from './segment-body.js';
import { segmentSettings } from './segment-settings.js';

/** A server library's call: consent as stated, under the environment's default. */
const SERVER_FACTS: RequestFacts = { source: 'server' };

/** What Segment's endpoints answer once the messages are committed. */
export function segmentAnswer(report: IngestReport) {
  const { accepted, duplicates, errors } = report;
  return { success: true, accepted, duplicates, errors };
}

/**
 * Ingests a request's messages and resolves after their commit, for Fastify's routes and the
 * fast path alike; an HttpError when a single call's one message is unusable (400) or
 * nothing could be taken (503).
 */
export async function ingestSegment(
  s: Services,
  env: EnvironmentConfig,
  messages: readonly unknown[],
  pathType: SegmentType | undefined,
  facts: RequestFacts = SERVER_FACTS,
  /** The messages' sizes, when measured already (toArrivals). */
  sizes?: readonly number[],
): Promise<IngestReport> {
  s.metrics.hit('segment');
  const report = await ingest(s, toArrivals(env, messages, pathType, facts, sizes), 'commit');
  countInvalid(s, 'segment', report.errors);
  // A single call whose one message is unusable is refused whole, naming each bad field.
  if (pathType && report.events.length === 0)
    throw new HttpError(
      400,
      'invalid_event',
      'the message was not accepted',
      report.errors.map(({ field, message }) => ({ field, message })),
    );
  if (report.refused) throw refusalError(report.refused);
  return report;
}

/** Ingests a request's messages and answers after their commit. */
async function collect(
  s: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  messages: unknown[],
  pathType: SegmentType | undefined,
  env: EnvironmentConfig,
  browser: boolean,
  /** The messages' sizes, when measured already (toArrivals). */
  sizes?: readonly number[],
) {
  // Browsers: bots and prefetches are stored flagged and counted, as on the tag's beacon;
  // they are never credited and get no cookie.
  const traffic = browser ? classifyTraffic(req) : 'human';
  if (traffic !== 'human')
    s.metrics.invalidHits.inc({ endpoint: 'segment', reason: traffic }, messages.length);
  // Consent decided as for our own endpoints (issue 6): a browser call by its headers and
  // the environment's default, a server call by what it states and the default.
  const facts: RequestFacts = browser
    ? {
        source: 'tag',
        browserConsent: (e, stated) => requestConsent(req, e, stated),
        traffic,
        seen: requestUser(req),
      }
    : SERVER_FACTS;
  const report = await ingestSegment(s, env, messages, pathType, facts, sizes);
  // Like the tag's beacon: the browser's Segment id becomes the collector's first-party cookie.
  if (browser && traffic === 'human') {
    const anon = report.events.find((e) => adsPermitted(e.consent))?.user.anonymous_id;
    adoptBrowserId(req, reply, anon, env);
  }
  return reply.send(segmentAnswer(report));
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
      const received = Number(req.headers['content-length']);
      if (received > MAX_SEGMENT_EVENT_BYTES)
        throw tooLarge('the message', MAX_SEGMENT_EVENT_BYTES);
      const body = parseBody(req.body);
      // Fastify has checked that the body's bytes are its Content-Length.
      const size = singleMessageSize(body, received) ?? Number.POSITIVE_INFINITY;
      if (size > MAX_SEGMENT_EVENT_BYTES) throw tooLarge('the message', MAX_SEGMENT_EVENT_BYTES);
      const env = authorize(s, req, body);
      // Measured once: writing a message out as JSON was a fifth of the route's own work.
      return collect(s, req, reply, [body], type, env, browser, [size]);
    };
  const batch = (browser: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (browser) corsHeaders(s, req, reply);
    if (Number(req.headers['content-length']) > MAX_SEGMENT_BATCH_BYTES)
      throw tooLarge('the batch', MAX_SEGMENT_BATCH_BYTES);
    const body = parseBody(req.body);
    // A batch nested too deep to measure is no larger than its Content-Length: its messages
    // are measured one by one, and only the deep one is refused.
    if ((bytes(body) ?? 0) > MAX_SEGMENT_BATCH_BYTES)
      throw tooLarge('the batch', MAX_SEGMENT_BATCH_BYTES);
    const env = authorize(s, req, body);
    return collect(s, req, reply, batchMessages(body), undefined, env, browser);
  };
  const preflight = async (req: FastifyRequest, reply: FastifyReply) => {
    preflightHeaders(s, req, reply);
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
  segmentSettings(app, s);
}
