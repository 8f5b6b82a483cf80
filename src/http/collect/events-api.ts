import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { type ArrivalError, arrivalsOf, ingest, type RequestFacts } from '../../ingest/ingest.js';
import { HttpError, refusalError } from '../errors.js';
import { bearer } from '../request/key-check.js';
import type { Services } from '../services.js';
import { countInvalid } from './invalid-hits.js';

/** A server's call with the write key: consent as stated, events as late as destinations take. */
const SERVER_FACTS: RequestFacts = { source: 'server', verified: 'write_key', lateEvents: true };

/** Events one request may carry (DESIGN §5). */
export const MAX_EVENTS_PER_REQUEST = 1000;
/** A full batch of 1000 events fits in this (DESIGN §5: 1 MB). */
export const MAX_EVENTS_BODY_BYTES = 1024 * 1024;

const EventsBody = Type.Object({
  events: Type.Array(Type.Unknown(), {
    minItems: 1,
    maxItems: MAX_EVENTS_PER_REQUEST,
    // Each event is validated on its own (every bad field named, good events kept), so the
    // schema describes the contract (DESIGN §5, docs/endpoints-guide.md) without refusing.
    description:
      'events (DESIGN §5): event_name, event_id, event_time, env_id, action_source, app_id ' +
      '(the app: App Store id, package name or bundle id); user {anonymous_id, user_id, ' +
      'email | email_sha256, phone | phone_sha256, ip, user_agent, click_id, imp_id, idfa, ' +
      'idfv, gaid, app_instance_id, os (ios, android…: an iOS app event is never credited by ' +
      'IP), att_status (authorized, denied, restricted, not_determined)}; properties {value, ' +
      'currency, content_ids, contents, url, referrer, install_referrer (Google Play), …}; ' +
      'consent {ads, analytics}; campaign {source, medium, name, term, content, id}; landing ' +
      '(true: the first event of a page load, which alone makes a visit; absent: a PageView ' +
      'or an event naming a campaign is one)',
  }),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** The environment whose write key authorized the request. */
    envId: string;
  }
}

/** What `POST /v1/events` answers once its events are committed. */
export interface EventsAnswer {
  accepted: number;
  duplicates: number;
  errors: ArrivalError[];
}

/**
 * The events of a body the route's schema takes as it is (an object whose `events` is an
 * array of 1 to MAX_EVENTS_PER_REQUEST items), or null for any other body: the fast path
 * (post-fast-path.ts) leaves those to Fastify, which names what is wrong.
 */
export function eventsOfBody(body: unknown): unknown[] | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const events = (body as { events?: unknown }).events;
  return Array.isArray(events) && events.length >= 1 && events.length <= MAX_EVENTS_PER_REQUEST
    ? events
    : null;
}

/**
 * The events API's work after its checks, for Fastify's route and the fast path alike:
 * ingests the events of the environment whose write key was shown and answers after their
 * commit; an HttpError (503 + Retry-After) when nothing could be taken.
 */
export async function collectEvents(
  s: Services,
  env: EnvironmentConfig,
  events: readonly unknown[],
): Promise<EventsAnswer> {
  s.metrics.hit('v1_events');
  const report = await ingest(s, arrivalsOf(env, SERVER_FACTS, events));
  countInvalid(s, 'v1_events', report.errors);
  if (report.refused) throw refusalError(report.refused);
  const { accepted, duplicates, errors } = report;
  return { accepted, duplicates, errors };
}

/** `POST /v1/events`, the server-side events API; answers after the batch is committed. */
export function eventsApi(app: FastifyInstance, s: Services): void {
  app.decorateRequest('envId', '');
  app.post<{ Body: Static<typeof EventsBody> }>(
    '/v1/events',
    {
      bodyLimit: MAX_EVENTS_BODY_BYTES,
      schema: { body: EventsBody },
      // A callback, not an async hook: no promise and microtask turn on every request.
      preValidation: (req, _reply, done) => {
        const key = bearer(req.headers.authorization);
        // A Bearer credential is the one credentialOf read: its digest is the limiter's.
        const env = key ? s.environmentByWriteKey(req.credentialDigest ?? key) : undefined;
        if (!env) {
          done(
            new HttpError(
              401,
              'unauthorized',
              'a valid write key is required: Authorization: Bearer <write_key>',
            ),
          );
          return;
        }
        req.envId = env.id;
        done();
      },
    },
    (req) => collectEvents(s, s.environment(req.envId) as EnvironmentConfig, req.body.events),
  );
}
