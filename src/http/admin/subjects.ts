import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { hashEmail, hashPhone } from '../../domain/identity.js';
import type { SubjectKeys } from '../../store/store.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

const MAX_KEY_CHARS = 256;
const SubjectQuery = Type.Object({
  env_id: Type.String({ minLength: 1, maxLength: 64 }),
  user_id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_CHARS })),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_CHARS })),
  phone: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_CHARS })),
  anonymous_id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_CHARS })),
});
type Q = Static<typeof SubjectQuery>;

/** The person the query names; 400 naming the field when a key is unusable or none is given. */
function subjectKeys(s: Services, q: Q): SubjectKeys {
  if (!s.environment(q.env_id)) throw new HttpError(404, 'not_found', `no environment ${q.env_id}`);
  const keys: SubjectKeys = { env_id: q.env_id };
  if (q.user_id) keys.user_id = q.user_id;
  if (q.anonymous_id) keys.anonymous_id = q.anonymous_id;
  if (q.email) {
    const h = hashEmail(q.email);
    if (!h)
      throw new HttpError(400, 'invalid_request', 'email is not valid', [
        { field: 'email', message: 'is not a valid email' },
      ]);
    keys.email_sha256 = h;
  }
  if (q.phone) {
    const h = hashPhone(q.phone);
    if (!h)
      throw new HttpError(400, 'invalid_request', 'phone is not valid', [
        { field: 'phone', message: 'is not a valid phone' },
      ]);
    keys.phone_sha256 = h;
  }
  if (Object.keys(keys).length === 1)
    throw new HttpError(400, 'invalid_request', 'name the person', [
      { field: 'user_id', message: 'give user_id, email, phone or anonymous_id' },
    ]);
  return keys;
}

/**
 * `DELETE /api/subjects` erases every event, touch, identity link, conversion, delivery and
 * audience membership of one person, queues their removal from the ad platforms' audiences
 * they were synced to (Art. 17(2)), and reports counts; `GET /api/subjects/export` returns
 * what we hold (GDPR Art. 15, 17). The person is named by `user_id`, `email`, `phone` or
 * `anonymous_id`, and identity links widen it to every browser id seen with those.
 */
export function subjectsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    api.get<{ Querystring: Q }>(
      '/api/subjects/export',
      {
        schema: {
          summary:
            'what is held about one person: events, touches, identity links, conversions, deliveries',
          querystring: SubjectQuery,
        },
      },
      async (req) => {
        const keys = subjectKeys(s, req.query);
        // Writes still queued could belong to the person: commit them first.
        await s.pipeline.flush();
        return { subject: keys, ...(await s.store.findSubject(keys)) };
      },
    );
    api.delete<{ Querystring: Q }>(
      '/api/subjects',
      {
        schema: {
          summary:
            "erase one person's events, touches, identity links, conversions, deliveries and audience memberships",
          querystring: SubjectQuery,
        },
      },
      async (req) => {
        const keys = subjectKeys(s, req.query);
        await s.pipeline.flush();
        // Evaluations under way may still write the person's memberships (read before the
        // erasure): they finish first, and what they wrote goes with the rest.
        await s.audiences.settle();
        const { deleted, audience_removals_queued } = await s.store.eraseSubject(
          keys,
          s.audiences.erasureRemovals(keys.env_id),
          s.nowMs(),
        );
        // Removal batches for the ad platforms are queued: send them now, not at the next poll.
        if (audience_removals_queued > 0) s.worker.wake();
        req.log.info({ env_id: keys.env_id, deleted, audience_removals_queued }, 'subject erased');
        return { subject: keys, deleted, audience_removals_queued };
      },
    );
  });
}
