import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findApp } from '../../config/find-app.js';
import { decodeValue } from '../../domain/conversion-schema.js';
import type { PostbackRecord } from '../../store/store.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/** `unverified_last_24h` counts this hour and the 23 before it. */
const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;

const ListQuery = Type.Object({
  env_id: Type.Optional(
    Type.String({ description: 'the environment of the advertised apps (config `apps`)' }),
  ),
  unclaimed: Type.Optional(
    Type.Boolean({ description: 'true: postbacks of apps no environment lists, instead' }),
  ),
  verified: Type.Optional(Type.Boolean({ description: 'only verified, or only unverified' })),
  framework: Type.Optional(
    Type.Union([Type.Literal('skadnetwork'), Type.Literal('adattributionkit')]),
  ),
  app_id: Type.Optional(Type.String({ description: 'the advertised App Store id' })),
  before_id: Type.Optional(
    Type.Integer({ minimum: 1, description: "the previous page's next_before_id" }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
});

/**
 * `GET /api/postbacks` (issue 25): an environment's Apple postbacks, newest first, each with
 * `verified` and, when not, the reason; a verified one also says what its conversion value
 * means under the app's schema (`decoded`). `unverified_last_24h`: the unverified postbacks
 * received in the last 24 hours, and how many of them were kept (the hourly sample).
 */
export function postbacksApi(app: FastifyInstance, s: Services): void {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/postbacks',
    {
      schema: {
        summary:
          'SKAdNetwork and AdAttributionKit postbacks, newest first: verified or why not, decoded values',
        querystring: ListQuery,
      },
    },
    async (req) => {
      const q = req.query;
      if (!q.unclaimed) {
        if (!q.env_id)
          throw new HttpError(400, 'invalid_request', 'env_id is required', [
            { field: 'env_id', message: 'must name an environment (or set unclaimed=true)' },
          ]);
        if (!s.environment(q.env_id))
          throw new HttpError(404, 'not_found', `no environment ${q.env_id}`);
      }
      const limit = q.limit ?? DEFAULT_LIMIT;
      const env_id = q.unclaimed ? '' : (q.env_id ?? '');
      const now = s.nowMs();
      const since = now - (now % HOUR_MS) - (DAY_HOURS - 1) * HOUR_MS;
      const rows = await s.store.listPostbacks({
        env_id,
        verified: q.verified,
        framework: q.framework,
        app_id: q.app_id,
        before_id: q.before_id,
        limit,
      });
      return {
        postbacks: rows.map((r) => withDecoded(s, r)),
        next_before_id: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
        // Unverified postbacks are kept as a sample: how many came, and how many are listed.
        unverified_last_24h: await s.store.unverifiedCounts(env_id, since),
      };
    },
  );
}

function withDecoded(s: Services, r: PostbackRecord) {
  if (!r.verified || r.app_id === null) return { ...r, decoded: null };
  const schema = findApp(s.config, 'ios', r.app_id)?.conversion_values ?? null;
  const d = decodeValue(schema, r);
  return {
    ...r,
    decoded: {
      source: d.source,
      events: d.events,
      revenue: d.revenue ? { ...d.revenue, currency: schema?.currency ?? null } : null,
      unmapped: d.unmapped,
    },
  };
}
