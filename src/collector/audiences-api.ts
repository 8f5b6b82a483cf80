import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
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

  api.post<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/recompute',
    { schema: { params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      return { id: a.record.id, size: await s.audiences.recompute(a.record.id) };
    },
  );
}
