import type { ServerResponse } from 'node:http';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { attributionRules } from '../domain/attribution.js';
import { explainAttribution } from '../domain/attribution-explain.js';
import { eventDiagnostics } from '../domain/event-diagnostics.js';
import { type LiveFilter, matchesLive } from '../ingest/live-bus.js';
import { personTouches } from '../reports/conversion-paths.js';
import type { EventTrail } from '../store/store.js';
import { HttpError } from './http-error.js';
import type { Services } from './services.js';

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** EventSource reconnects after this long when the stream drops. */
const RECONNECT_MS = 2000;
const MAX_EVENT_ROWS = 500;
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
  const { who, touches } = await s.store.ingest((tx) =>
    personTouches(tx, e, e.event_time - Math.ceil(s.config.touch_retention_ms / 1000)),
  );
  return {
    ...trail,
    diagnostics: eventDiagnostics(e, trail.event.received_at_ms),
    conversions: trail.conversions.map((c) => {
      const d = env?.destinations.find((x) => x.id === c.dest_id);
      const explanation = d
        ? explainAttribution(
            who,
            touches,
            attributionRules(d),
            c.reason === CONSENT_DENIED || e.consent.ads === false,
          )
        : null;
      return { ...c, explanation };
    }),
  };
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
    api.addHook('preClose', async () => {
      for (const res of streams) res.end();
    });

    api.get<{ Querystring: Static<typeof Filter> }>(
      '/api/live',
      { schema: { querystring: Filter } },
      (req, reply) => {
        const filter = filterOf(req.query);
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
          res.write(`event: ${item.type}\ndata: ${JSON.stringify(item)}\n\n`);
        });
        const beat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
        streams.add(res);
        res.on('close', () => {
          clearInterval(beat);
          unsubscribe();
          streams.delete(res);
        });
      },
    );

    api.get<{ Querystring: Static<typeof Filter> }>(
      '/api/events',
      { schema: { querystring: Filter } },
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
      { schema: { params: PkParams } },
      async (req) => {
        const trail = await s.store.eventTrail(req.params.pk);
        if (!trail) throw new HttpError(404, 'not_found', `no event ${req.params.pk}`);
        return explainedTrail(s, trail);
      },
    );
  });
}
