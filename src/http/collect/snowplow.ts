import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { adsPermitted } from '../../domain/consent.js';
import { payloadItems } from '../../domain/snowplow-mapping.js';
import { type IngestReport, ingest } from '../../ingest/ingest.js';
import { HttpError, refusalError } from '../errors.js';
import type { Services } from '../services.js';
import { SNOWPLOW_GET_PATH, SNOWPLOW_POST_PATH } from '../snowplow-paths.js';
import { corsHeaders, preflightHeaders } from './beacon.js';
import { adoptBrowserId } from './browser-cookie.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { countInvalid } from './invalid-hits.js';
import { headOnly } from './pixel-hit.js';
import { serverAnonymised, toArrivals } from './snowplow-body.js';

export { SNOWPLOW_GET_PATH, SNOWPLOW_POST_PATH } from '../snowplow-paths.js';

/** The request headers the web tracker may send (a preflight's Allow-Headers). */
const TRACKER_HEADERS = 'authorization, content-type, x-retry-count, sp-anonymous';

/** Items one POST may carry; trackers batch by bytes (default 40 KB), far below this. */
const MAX_ITEMS = 1000;

/** Counts the flagged traffic among the events. */
function countTraffic(s: Services, report: IngestReport): void {
  for (const e of report.events)
    if (e.traffic) s.metrics.invalidHits.inc({ endpoint: 'snowplow', reason: e.traffic });
}

/**
 * Like the tag's beacon: a browser without `ptid` gets the tracker's first-party id. Never
 * under server-side anonymisation: `ptid` is this collector's network user id.
 */
function shareCookie(s: Services, req: FastifyRequest, reply: FastifyReply, report: IngestReport) {
  if (serverAnonymised(req)) return;
  const from = report.events.find(
    (e) => e.source !== 'server' && !e.traffic && adsPermitted(e.consent) && e.user.anonymous_id,
  );
  if (from) adoptBrowserId(req, reply, from.user.anonymous_id, s.environment(from.env_id));
}

/**
 * Snowplow collector endpoints: `POST /com.snowplowanalytics.snowplow/tp2` (payload_data) and
 * the GET pixel (`/com.snowplowanalytics.snowplow/i`, and `/i` when it carries `e=`, see
 * url-rewrite.ts). The app id (`aid`) names the environment.
 */
export function snowplowRoutes(app: FastifyInstance, s: Services): void {
  app.options(SNOWPLOW_POST_PATH, async (req, reply) => {
    preflightHeaders(s, req, reply, TRACKER_HEADERS);
    return reply.status(204).send();
  });
  // The web tracker's GET goes by fetch with its headers too: `SP-Anonymous` (or any custom
  // header) makes the browser ask first, at `/i?e=…` (routed here, url-rewrite.ts).
  app.options(SNOWPLOW_GET_PATH, async (req, reply) => {
    preflightHeaders(s, req, reply, TRACKER_HEADERS, 'GET, OPTIONS');
    return reply.status(204).send();
  });

  app.post(SNOWPLOW_POST_PATH, async (req, reply) => {
    s.metrics.hit('snowplow');
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
    const report = await ingest(s, toArrivals(s, req, items), 'commit');
    countTraffic(s, report);
    countInvalid(s, 'snowplow', report.errors);
    if (report.refused) throw refusalError(report.refused);
    shareCookie(s, req, reply, report);
    const { accepted, duplicates, errors } = report;
    return reply.send({ accepted, duplicates, errors });
  });

  app.get(SNOWPLOW_GET_PATH, async (req, reply) => {
    const head = headOnly(s, 'snowplow', req.method);
    if (!head) s.metrics.hit('snowplow');
    // Tracker v4 sends GET events with fetch and credentials: it needs CORS like the POST.
    corsHeaders(s, req, reply);
    reply.headers(GIF_HEADERS);
    if (head) return reply.header('x-pixeltrail-warnings', 'head').send(TRANSPARENT_GIF);
    // A failed commit is counted by the pipeline (pixeltrail_writes_failed_total).
    const report = await ingest(s, toArrivals(s, req, [req.query]), 'queue');
    countTraffic(s, report);
    countInvalid(s, 'snowplow', report.errors);
    // A pixel can only answer with an image; its problems travel in a header.
    if (report.errors.length > 0)
      reply.header(
        'x-pixeltrail-warnings',
        report.errors.map((e) => `${e.field} ${e.message}`).join(', '),
      );
    shareCookie(s, req, reply, report);
    return reply.send(TRANSPARENT_GIF);
  });
}
