import { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { exportCsvPieces } from '../../audiences/audience-export.js';
import type { LoadedAudience } from '../../audiences/audience-service.js';
import type { RuleError } from '../../domain/audience-rules.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';
import {
  audienceSyncsApi,
  checkMinimum,
  describeSchedules,
  parseSchedules,
  ScheduleBody,
} from './audience-syncs.js';
import { checkNoHoldout, describeHoldout, HoldoutSettings } from './holdouts.js';

/** Size history points shown with an audience. */
const SIZE_HISTORY_POINTS = 500;

const CreateBody = Type.Object(
  {
    env_id: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    rules: Type.Unknown(),
    min_export_size: Type.Optional(Type.Integer({ minimum: 1 })),
    syncs: Type.Optional(Type.Array(ScheduleBody, { maxItems: 20 })),
    holdout: Type.Optional(HoldoutSettings),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    rules: Type.Optional(Type.Unknown()),
    min_export_size: Type.Optional(Type.Integer({ minimum: 1 })),
    syncs: Type.Optional(Type.Array(ScheduleBody, { maxItems: 20 })),
    /** null ends the holdout. */
    holdout: Type.Optional(Type.Union([HoldoutSettings, Type.Null()])),
  },
  { additionalProperties: false },
);
const AudienceParams = Type.Object({ id: Type.String() });
const MemberQuery = Type.Object(
  { user_id: Type.Optional(Type.String()), anonymous_id: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const MemberAnswer = Type.Object({
  member: Type.Boolean(),
  /** A member held out (issue 23): not to be retargeted, so `member` is false. */
  holdout: Type.Optional(Type.Boolean()),
});
const ListQuery = Type.Object({ env_id: Type.String() });
function invalidRules(errors: RuleError[]): HttpError {
  return new HttpError(
    400,
    'invalid_rules',
    errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  );
}

/** Loads the audience named in the path, or answers 404. */
export async function audienceOr404(s: Services, id: string): Promise<LoadedAudience> {
  const a = await s.audiences.get(id);
  if (!a) throw new HttpError(404, 'not_found', `no audience ${id}`);
  return a;
}

/**
 * Gives the audience the holdout asked (issue 23): a new one, a new fraction or events for
 * the one it has, or none (`null`). Left out: unchanged.
 */
async function applyHoldout(
  s: Services,
  a: LoadedAudience,
  asked: Static<typeof HoldoutSettings> | null | undefined,
): Promise<void> {
  if (asked === undefined) return;
  const { env_id, id } = a.record;
  const had = await s.store.holdoutOfSubject(env_id, 'audience', id);
  if (asked === null) {
    if (had) await s.holdouts.remove(had);
  } else if (had) await s.holdouts.update(had, asked);
  else {
    await checkNoHoldout(s, env_id, { subject_type: 'audience', subject_id: id });
    await s.holdouts.create({ env_id, subject_type: 'audience', subject_id: id, ...asked });
  }
}

/** The audience's holdout as the API shows it, or null. */
async function holdoutOf(s: Services, a: LoadedAudience) {
  const h = await s.store.holdoutOfSubject(a.record.env_id, 'audience', a.record.id);
  return h ? describeHoldout(h) : null;
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

/** `/api/audiences` (issue 9): define, edit, delete, inspect, look up membership, recompute. */
export function audiencesApi(api: FastifyInstance, s: Services): void {
  api.post<{ Body: Static<typeof CreateBody> }>(
    '/api/audiences',
    { schema: { summary: 'define an audience from rules', body: CreateBody } },
    async (req, reply) => {
      const b = req.body;
      if (!s.environment(b.env_id)) {
        throw new HttpError(400, 'invalid_request', `no environment ${b.env_id}`, [
          { field: 'env_id', message: 'is not a configured environment' },
        ]);
      }
      const schedules = parseSchedules(s, b.env_id, b.syncs ?? []);
      const r = await s.audiences.create(b.env_id, b.name, b.rules, b.min_export_size);
      if (!r.ok) throw invalidRules(r.errors);
      const made = await audienceOr404(s, r.id);
      if (schedules.length > 0) await s.audiences.setSchedules(made, schedules);
      await applyHoldout(s, made, b.holdout);
      return reply.status(201).send({ id: r.id });
    },
  );

  api.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/audiences',
    { schema: { summary: "an environment's audiences", querystring: ListQuery } },
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
    { schema: { summary: 'one audience with its size history and syncs', params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      const { env_id, id } = a.record;
      const history = await s.store.audienceSizes(env_id, id, SIZE_HISTORY_POINTS);
      return {
        ...describe(a),
        syncs: describeSchedules(await s.store.listSchedules(env_id, id)),
        holdout: await holdoutOf(s, a),
        size: await s.store.audienceSize(env_id, id),
        size_history: history.map((h) => ({ at: new Date(h.at_ms).toISOString(), size: h.size })),
      };
    },
  );

  /** PATCH changes the fields given; PUT replaces the definition (name and rules required). */
  const edit =
    (replace: boolean) =>
    async (req: { params: Static<typeof AudienceParams>; body: Static<typeof PatchBody> }) => {
      const a = await audienceOr404(s, req.params.id);
      const b = req.body;
      if (replace && (b.name === undefined || b.rules === undefined)) {
        const missing = (['name', 'rules'] as const).filter((f) => b[f] === undefined);
        throw new HttpError(
          400,
          'invalid_request',
          'PUT replaces the audience: give name and rules (PATCH changes single fields)',
          missing.map((field) => ({ field, message: 'is required' })),
        );
      }
      const schedules =
        b.syncs !== undefined ? parseSchedules(s, a.record.env_id, b.syncs) : undefined;
      const r = await s.audiences.update(a.record.id, {
        name: b.name,
        rules: b.rules,
        min_export_size: b.min_export_size,
      });
      if (!r.ok) throw invalidRules(r.errors);
      if (schedules !== undefined) await s.audiences.setSchedules(a, schedules);
      await applyHoldout(s, a, b.holdout);
      const now = await audienceOr404(s, a.record.id);
      return {
        ...describe(now),
        syncs: describeSchedules(await s.store.listSchedules(a.record.env_id, a.record.id)),
        holdout: await holdoutOf(s, now),
        size: await s.store.audienceSize(a.record.env_id, a.record.id),
      };
    };
  api.patch<{ Params: Static<typeof AudienceParams>; Body: Static<typeof PatchBody> }>(
    '/api/audiences/:id',
    {
      schema: {
        summary: 'edit an audience, keeping the fields left out',
        params: AudienceParams,
        body: PatchBody,
      },
    },
    edit(false),
  );
  api.put<{ Params: Static<typeof AudienceParams>; Body: Static<typeof PatchBody> }>(
    '/api/audiences/:id',
    { schema: { summary: 'edit an audience', params: AudienceParams, body: PatchBody } },
    edit(true),
  );

  api.delete<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id',
    { schema: { summary: 'delete an audience', params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      await s.audiences.remove(a.record.id);
      return { id: a.record.id, deleted: true };
    },
  );

  api.get<{ Params: Static<typeof AudienceParams>; Querystring: Static<typeof MemberQuery> }>(
    '/api/audiences/:id/members',
    {
      schema: {
        summary: 'whether one person (user_id or anonymous_id) is a member',
        params: AudienceParams,
        querystring: MemberQuery,
        // Serialised by a compiled function instead of JSON.stringify: this is the hot route.
        response: { 200: MemberAnswer },
      },
    },
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
      const [key_type, key_value] =
        user_id !== undefined
          ? (['user_id', user_id] as const)
          : (['anonymous_id', anonymous_id as string] as const);
      const member = await s.audiences.isMember(a, key_type, key_value);
      const holdout = member ? await s.holdouts.forAudience(a.record.id) : null;
      // An ad server retargets from this answer: a held-out member must get no ad either.
      if (holdout && (await s.holdouts.assign(holdout, key_type, key_value)).group === 'holdout')
        return { member: false, holdout: true };
      return { member };
    },
  );

  api.get<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/export.csv',
    { schema: { summary: 'the members as a CSV file', params: AudienceParams } },
    async (req, reply) => {
      const a = await audienceOr404(s, req.params.id);
      await checkMinimum(s, a);
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${a.record.id}.csv"`)
          // Streamed a piece at a time: the event loop turns between pieces as the socket drains.
          .send(Readable.from(exportCsvPieces(await s.audiences.exportRows(a))))
      );
    },
  );

  audienceSyncsApi(api, s, (id) => audienceOr404(s, id));

  api.post<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/recompute',
    { schema: { summary: 'recompute the membership now', params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(s, req.params.id);
      return { id: a.record.id, size: await s.audiences.recompute(a.record.id) };
    },
  );
}
