import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { arrivalsOf, ingest, type RequestFacts } from '../../ingest/ingest.js';
import { HttpError, refusalError } from '../errors.js';
import { bearer } from '../request/key-check.js';
import type { Services } from '../services.js';
import { countInvalid } from './invalid-hits.js';

/** A server's call with the write key: consent as stated, events as late as destinations take. */
const SERVER_FACTS: RequestFacts = { source: 'server', verified: 'write_key', lateEvents: true };

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
    async (req) => {
      s.metrics.hits.inc({ endpoint: 'v1_events' });
      const env = s.environment(req.envId) as EnvironmentConfig;
      const report = await ingest(s, arrivalsOf(env, SERVER_FACTS, req.body.events));
      countInvalid(s, 'v1_events', report.errors);
      if (report.refused) throw refusalError(report.refused);
      const { accepted, duplicates, errors } = report;
      return { accepted, duplicates, errors };
    },
  );
}
