import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  EXPORT_PLATFORMS,
  type ExportPlatform,
  type ExportTarget,
  exportCsv,
} from '../audiences/audience-export.js';
import type { LoadedAudience } from '../audiences/audience-service.js';
import { HttpError } from './http-error.js';
import type { Services } from './services.js';

/** Size history points shown with an audience. */
const SIZE_HISTORY_POINTS = 500;

const CreateBody = Type.Object(
  {
    env_id: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    rules: Type.Unknown(),
    min_export_size: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
const AudienceParams = Type.Object({ id: Type.String() });
const MemberQuery = Type.Object(
  { user_id: Type.Optional(Type.String()), anonymous_id: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const ListQuery = Type.Object({ env_id: Type.String() });
const SyncBody = Type.Object(
  {
    dest_id: Type.String({ minLength: 1 }),
    platform_audience_id: Type.String({
      minLength: 1,
      description: 'Meta custom audience id, TikTok audience id, Google user list id',
    }),
    advertiser_id: Type.Optional(Type.String({ minLength: 1, description: 'TikTok only' })),
  },
  { additionalProperties: false },
);
/** Sync attempts shown per audience. */
const SYNC_LOG_ROWS = 1000;

/** Refuses an export of an audience smaller than its minimum, to protect individuals. */
async function checkMinimum(s: Services, a: LoadedAudience): Promise<number> {
  const size = await s.store.audienceSize(a.record.env_id, a.record.id);
  if (size < a.record.min_export_size) {
    throw new HttpError(
      409,
      'below_minimum_size',
      `the audience has ${size} people; nothing is exported below ${a.record.min_export_size}`,
    );
  }
  return size;
}

/** Loads the audience named in the path, or answers 404. */
export async function audienceOr404(s: Services, id: string): Promise<LoadedAudience> {
  const a = await s.audiences.get(id);
  if (!a) throw new HttpError(404, 'not_found', `no audience ${id}`);
  return a;
}

function describe(a: LoadedAudience) {
  const r = a.record;
  return {
    id: r.id,
    env_id: r.env_id,
    name: r.name,
    rules: r.rules,
    min_export_size: r.min_export_size,
    created_at: new Date(r.created_at_ms).toISOString(),
    recomputed_at: r.recomputed_at_ms === null ? null : new Date(r.recomputed_at_ms).toISOString(),
  };
}

/** `/api/audiences` (issue 9): define, inspect, look up membership, recompute. */
export function audiencesApi(api: FastifyInstance, s: Services): void {
  api.post<{ Body: Static<typeof CreateBody> }>(
    '/api/audiences',
    { schema: { body: CreateBody } },
    async (req, reply) => {
      const b = req.body;
      if (!s.environment(b.env_id)) {
        throw new HttpError(400, 'invalid_request', `no environment ${b.env_id}`, [
          { field: 'env_id', message: 'is not a configured environment' },
        ]);
      }
      const r = await s.audiences.create(b.env_id, b.name, b.rules, b.min_export_size);
      if (!r.ok) {
        throw new HttpError(
          400,
          'invalid_rules',
          r.errors.map((e) => `${e.field}: ${e.message}`).join('; '),
          r.errors,
        );
      }
      return reply.status(201).send({ id: r.id });
    },
  );

  api.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/audiences',
    { schema: { querystring: ListQuery } },
    async (req) => {
      const records = await s.store.listAudiences(req.query.env_id);
      return {
        audiences: await Promise.all(
          records.map(async (r) => ({
            ...describe((await s.audiences.get(r.id)) as LoadedAudience),
            size: await s.store.audienceSize(r.env_id, r.id),
          })),
        ),
      };
    },
  );

  api.get<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id',
    { schema: { params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      const { env_id, id } = a.record;
      const history = await s.store.audienceSizes(env_id, id, SIZE_HISTORY_POINTS);
      return {
        ...describe(a),
        size: await s.store.audienceSize(env_id, id),
        size_history: history.map((h) => ({ at: new Date(h.at_ms).toISOString(), size: h.size })),
      };
    },
  );

  api.get<{ Params: Static<typeof AudienceParams>; Querystring: Static<typeof MemberQuery> }>(
    '/api/audiences/:id/members',
    { schema: { params: AudienceParams, querystring: MemberQuery } },
    async (req) => {
      const { user_id, anonymous_id } = req.query;
      if ((user_id === undefined) === (anonymous_id === undefined)) {
        throw new HttpError(400, 'invalid_request', 'give exactly one of user_id, anonymous_id', [
          {
            field: user_id === undefined ? 'anonymous_id' : 'user_id',
            message: 'give exactly one of user_id, anonymous_id',
          },
        ]);
      }
      const a = await audienceOr404(s, req.params.id);
      const member =
        user_id !== undefined
          ? await s.audiences.isMember(a, 'user_id', user_id)
          : await s.audiences.isMember(a, 'anonymous_id', anonymous_id as string);
      return { member };
    },
  );

  api.get<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/export.csv',
    { schema: { params: AudienceParams } },
    async (req, reply) => {
      const a = await audienceOr404(s, req.params.id);
      await checkMinimum(s, a);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${a.record.id}.csv"`)
        .send(exportCsv(await s.audiences.exportRows(a)));
    },
  );

  api.post<{ Params: Static<typeof AudienceParams>; Body: Static<typeof SyncBody> }>(
    '/api/audiences/:id/sync',
    { schema: { params: AudienceParams, body: SyncBody } },
    async (req, reply) => {
      const a = await audienceOr404(s, req.params.id);
      const b = req.body;
      const dest = s.environment(a.record.env_id)?.destinations.find((d) => d.id === b.dest_id);
      if (!dest || !EXPORT_PLATFORMS.includes(dest.type as ExportPlatform)) {
        throw new HttpError(
          400,
          'invalid_request',
          "dest_id must name a meta, tiktok or google_ads destination of the audience's environment",
          [{ field: 'dest_id', message: 'is not a meta, tiktok or google_ads destination here' }],
        );
      }
      const platform = dest.type as ExportPlatform;
      if (platform === 'tiktok' && !b.advertiser_id) {
        throw new HttpError(400, 'invalid_request', 'advertiser_id is required for TikTok', [
          { field: 'advertiser_id', message: 'is required for TikTok' },
        ]);
      }
      const size = await checkMinimum(s, a);
      const settings = dest.settings as Record<string, string | undefined>;
      const target: ExportTarget = {
        platform,
        base_url: dest.base_url,
        access_token: settings.access_token ?? '',
        platform_audience_id: b.platform_audience_id,
        account_id:
          platform === 'tiktok'
            ? (b.advertiser_id ?? null)
            : platform === 'google_ads'
              ? (settings.customer_id ?? null)
              : null,
        api_version: platform === 'meta' ? settings.api_version : undefined,
      };
      void s.audiences.startSync(a, dest, target).catch(() => {});
      return reply.status(202).send({ status: 'started', size });
    },
  );

  api.get<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/syncs',
    { schema: { params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      return {
        attempts: await s.store.listSyncAttempts(a.record.env_id, a.record.id, SYNC_LOG_ROWS),
      };
    },
  );

  api.post<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/recompute',
    { schema: { params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      return { id: a.record.id, size: await s.audiences.recompute(a.record.id) };
    },
  );
}
