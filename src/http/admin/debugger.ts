import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { attributionRules } from '../../domain/attribution.js';
import { explainAttribution } from '../../domain/attribution-explain.js';
import { eventDiagnostics } from '../../domain/event-diagnostics.js';
import {
  bothExclusions,
  INSTALL_FRAUD_DEFAULTS,
  installBeganAt,
  isInstall,
} from '../../domain/install-fraud.js';
import { emptyVerdicts, recordedExclusion } from '../../domain/install-verdicts.js';
import { appKindOf } from '../../domain/mobile-platform.js';
import { appLookup, eventExclusion } from '../../ingest/eligibility.js';
import { protectEvent, protectTouch } from '../../ingest/ingest-privacy.js';
import { type LiveFilter, type LiveItem, matchesLive } from '../../ingest/live-bus.js';
import { personTouches } from '../../ingest/person-lookup.js';
import { withViews } from '../../ingest/touch-views.js';
import type { EventTrail } from '../../store/store.js';
import { HttpError } from '../errors.js';
import { bearer } from '../request/key-check.js';
import type { Services } from '../services.js';
import { validSession } from './session.js';

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** EventSource reconnects after this long when the stream drops. */
const RECONNECT_MS = 2000;
const MAX_EVENT_ROWS = 500;
/** Live streams one credential (an admin token, a dashboard session) may hold open at once. */
export const MAX_LIVE_STREAMS_PER_TOKEN = 5;
/** Live streams open at once on this process: each is a socket and a fan-out listener. */
export const MAX_LIVE_STREAMS = 25;
const DEFAULT_EVENT_ROWS = 100;
const CONSENT_DENIED = 'ads consent denied';

const Filter = Type.Object({
  env_id: Type.Optional(Type.String()),
  source: Type.Optional(
    Type.Union([Type.Literal('pixel'), Type.Literal('tag'), Type.Literal('server')]),
  ),
  event_name: Type.Optional(Type.String()),
  test_code: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EVENT_ROWS })),
});
const PkParams = Type.Object({ pk: Type.String({ minLength: 1, maxLength: 64 }) });

function filterOf(q: Static<typeof Filter>): LiveFilter {
  return { env_id: q.env_id, source: q.source, event_name: q.event_name, test_code: q.test_code };
}

/** The trail of one event, with the debugger's warnings and, per conversion, why. */
async function explainedTrail(s: Services, trail: EventTrail) {
  const e = trail.event.event;
  const env = s.environment(e.env_id);
  const { who, touches } = await s.store.ingest(async (tx) => {
    const found = await personTouches(
      tx,
      e,
      e.event_time - Math.ceil(s.config.touch_retention_ms / 1000),
    );
    // With what the viewability tag measured of each impression (issue 24).
    return { who: found.who, touches: await withViews(tx, found.touches) };
  });
  // The eligibility filter ingest applied: an iOS app event's IP matches, and an install's
  // verdicts as recorded at ingest (install-verdicts.ts): flooding is never counted again
  // over clicks made since, nor a data centre judged on an address stored as a hash.
  const apps = appLookup(s.config.apps);
  const ios = eventExclusion(e, env, apps);
  // An app is advised the keys an app can send (no cookie; no IP on iOS).
  const app = appKindOf(e, (id) => apps(e.env_id, id)?.platform);
  const settings = env?.install_fraud ?? INSTALL_FRAUD_DEFAULTS;
  const began = installBeganAt(e);
  return {
    ...trail,
    diagnostics: eventDiagnostics(e, trail.event.received_at_ms),
    conversions: trail.conversions.map((c) => {
      const d = findDestination(env, c.dest_id);
      // Rows recorded before verdicts were kept: injection, a function of the times alone.
      const verdicts =
        c.fraud_verdicts ?? (isInstall(e, settings) ? emptyVerdicts(settings, null) : null);
      const fraud = verdicts ? recordedExclusion(verdicts, settings, began, touches) : undefined;
      const explanation = d
        ? explainAttribution(
            who,
            touches,
            { ...attributionRules(d), exclude: bothExclusions(ios, fraud) },
            c.reason === CONSENT_DENIED || e.consent.ads === false,
            app,
          )
        : null;
      return { ...c, explanation };
    }),
  };
}

/**
 * Who holds a stream: a digest of the Bearer admin token, or the dashboard session's id
 * (the admin check already accepted one of them).
 */
function streamHolder(s: Services, req: FastifyRequest): string {
  const token = bearer(req.headers.authorization);
  if (token) return `t:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
  return `s:${validSession(s.config, req, Math.floor(s.nowMs() / 1000))?.id ?? ''}`;
}

/**
 * An item as the store keeps it: its IP as the environment's `ip_storage` says (the hash
 * under `hmac`), never the address the request came from.
 */
function asStored(s: Services, item: LiveItem): LiveItem {
  // A viewability signal carries ids and measurements only, no address.
  if (item.type === 'view') return item;
  if (item.type === 'touch') {
    const touch = protectTouch(item.touch, s.environment(item.touch.env_id));
    return touch === item.touch ? item : { ...item, touch };
  }
  const event = protectEvent(item.event, s.environment(item.event.env_id));
  return event === item.event ? item : { ...item, event };
}

/**
 * The live debugger's API: `GET /api/live` (Server-Sent Events of committed touches and
 * events), `GET /api/events` (the newest stored events) and `GET /api/events/:pk` (one
 * event with its warnings, duplicates, conversions, why each was or was not attributed, and
 * deliveries).
 */
export function debuggerApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    const streams = new Set<ServerResponse>();
    const perToken = new Map<string, number>();
    api.addHook('preClose', async () => {
      for (const res of streams) res.end();
    });

    api.get<{ Querystring: Static<typeof Filter> }>(
      '/api/live',
      {
        schema: {
          summary: 'the live debugger: events as they arrive (Server-Sent Events)',
          querystring: Filter,
        },
      },
      (req, reply) => {
        const filter = filterOf(req.query);
        const holder = streamHolder(s, req);
        const mine = perToken.get(holder) ?? 0;
        if (mine >= MAX_LIVE_STREAMS_PER_TOKEN || streams.size >= MAX_LIVE_STREAMS)
          throw new HttpError(
            429,
            'too_many_streams',
            mine >= MAX_LIVE_STREAMS_PER_TOKEN
              ? `at most ${MAX_LIVE_STREAMS_PER_TOKEN} live streams per admin token or session; close one (another tab?) first`
              : `at most ${MAX_LIVE_STREAMS} live streams at once on this server; try again later`,
          );
        perToken.set(holder, mine + 1);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          // nginx would otherwise buffer the stream.
          'x-accel-buffering': 'no',
        });
        res.write(`retry: ${RECONNECT_MS}\n: connected\n\n`);
        let dropped = 0;
        const unsubscribe = s.live.subscribe((item) => {
          if (!matchesLive(item, filter)) return;
          // A client that cannot keep up loses items rather than growing our memory.
          if (res.writableNeedDrain) {
            dropped++;
            return;
          }
          if (dropped > 0) {
            res.write(`event: dropped\ndata: ${JSON.stringify({ dropped })}\n\n`);
            dropped = 0;
          }
          res.write(`event: ${item.type}\ndata: ${JSON.stringify(asStored(s, item))}\n\n`);
        });
        const beat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
        streams.add(res);
        res.on('close', () => {
          clearInterval(beat);
          unsubscribe();
          streams.delete(res);
          const left = (perToken.get(holder) ?? 1) - 1;
          if (left > 0) perToken.set(holder, left);
          else perToken.delete(holder);
        });
      },
    );

    api.get<{ Querystring: Static<typeof Filter> }>(
      '/api/events',
      { schema: { summary: 'the latest stored events, newest first', querystring: Filter } },
      async (req) => {
        const events = await s.store.listEvents({
          ...filterOf(req.query),
          limit: req.query.limit ?? DEFAULT_EVENT_ROWS,
        });
        return {
          events: events.map((e) => ({
            ...e,
            diagnostics: eventDiagnostics(e.event, e.received_at_ms),
          })),
        };
      },
    );

    api.get<{ Params: Static<typeof PkParams> }>(
      '/api/events/:pk',
      { schema: { summary: 'one stored event with what became of it', params: PkParams } },
      async (req) => {
        const trail = await s.store.eventTrail(req.params.pk);
        if (!trail) throw new HttpError(404, 'not_found', `no event ${req.params.pk}`);
        return explainedTrail(s, trail);
      },
    );
  });
}
