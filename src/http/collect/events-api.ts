import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { eventAgeLimitS } from '../../delivery/event-age.js';
import type { TrackedEvent } from '../../domain/event.js';
import { validateEvent } from '../../domain/validation.js';
import { IngestRefused } from '../../ingest/ingest-pipeline.js';
import type { EventOutcome } from '../../ingest/process-batch.js';
import { HttpError } from '../errors.js';
import { serverConsent } from '../request/consent.js';
import { bearer } from '../request/key-check.js';
import type { Services } from '../services.js';

/** Retry-After (seconds) when the ingest queue is full, and when the store cannot commit. */
const RETRY_AFTER_BUSY_S = 1;
const RETRY_AFTER_STORE_S = 2;

/** Events one request may carry (DESIGN §5). */
export const MAX_EVENTS_PER_REQUEST = 1000;
/** A full batch of 1000 events fits in this (DESIGN §5: 1 MB). */
const MAX_EVENTS_BODY_BYTES = 1024 * 1024;

const EventsBody = Type.Object({
  events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST }),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** The environment whose write key authorized the request. */
    envId: string;
  }
}

interface BatchError {
  index: number;
  field: string;
  message: string;
}

/** `POST /v1/events`, the server-side events API; answers after the batch is committed. */
export function eventsApi(app: FastifyInstance, s: Services): void {
  app.decorateRequest('envId', '');
  app.post<{ Body: Static<typeof EventsBody> }>(
    '/v1/events',
    {
      bodyLimit: MAX_EVENTS_BODY_BYTES,
      schema: { body: EventsBody },
      preValidation: async (req) => {
        const key = bearer(req.headers.authorization);
        const env = key ? s.environmentByWriteKey(key) : undefined;
        if (!env)
          throw new HttpError(
            401,
            'unauthorized',
            'a valid write key is required: Authorization: Bearer <write_key>',
          );
        req.envId = env.id;
      },
    },
    async (req, reply) => {
      s.metrics.hits.inc({ endpoint: 'v1_events' });
      const envId = req.envId;
      const errors: BatchError[] = [];
      const good: TrackedEvent[] = [];
      const nowMs = s.nowMs();
      req.body.events.forEach((raw, index) => {
        const r = validateEvent(raw, {
          nowMs,
          source: 'server',
          envId,
          newId: () => s.newId('gen_'),
          maxEventAgeS: (name, source) => eventAgeLimitS(s.environment(envId), name, source),
        });
        if (r.ok) {
          r.event.consent = serverConsent(s.environment(envId), r.event.consent);
          r.event.verified = 'write_key';
          good.push(r.event);
        } else for (const e of r.errors) errors.push({ index, ...e });
      });
      if (errors.length > 0) {
        s.metrics.invalidHits.inc(
          { endpoint: 'v1_events', reason: 'invalid_event' },
          new Set(errors.map((e) => e.index)).size,
        );
      }
      let outcomes: EventOutcome[];
      try {
        outcomes = await s.pipeline.recordEvents(good);
      } catch (e) {
        if (!(e instanceof IngestRefused)) throw e;
        // Nothing of this batch was committed: the client retries it whole, later.
        const busy = e.reason === 'queue_full';
        req.log.warn({ reason: e.reason, err: e.cause }, 'events batch not committed');
        return reply
          .status(503)
          .header('retry-after', String(busy ? RETRY_AFTER_BUSY_S : RETRY_AFTER_STORE_S))
          .send({
            error: {
              code: busy ? 'overloaded' : 'store_unavailable',
              message: busy
                ? 'too many events are waiting to be stored; retry after the Retry-After delay'
                : 'events could not be stored; retry after the Retry-After delay',
            },
          });
      }
      s.worker.wake();
      const duplicates = outcomes.filter((o) => o.status === 'duplicate').length;
      return reply.send({ accepted: outcomes.length - duplicates, duplicates, errors });
    },
  );
}
