import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { currentFraction, type Holdout } from '../../domain/holdout.js';
import type { FieldError } from '../../domain/validation-error.js';
import { runLiftReport } from '../../reports/lift-run.js';
import { HttpError } from '../errors.js';
import { parseTimeMs } from '../request/time-param.js';
import type { Services } from '../services.js';

/** Default half-width asked of the relative lift's interval: ±5 points. */
const DEFAULT_PRECISION = 0.05;

/** A fraction strictly between 0 and 1: 0 holds no one out, 1 exposes no one. */
export const Fraction = Type.Number({
  exclusiveMinimum: 0,
  exclusiveMaximum: 1,
  description: 'share of people held out, e.g. 0.1',
});
const ConversionEvents = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 20,
  description: 'event names counted as conversions (default Purchase)',
});
/** What an audience's `holdout` field takes. */
export const HoldoutSettings = Type.Object(
  { fraction: Fraction, conversion_events: Type.Optional(ConversionEvents) },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  {
    env_id: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    audience_id: Type.Optional(Type.String({ minLength: 1 })),
    campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    fraction: Fraction,
    conversion_events: Type.Optional(ConversionEvents),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    fraction: Type.Optional(Fraction),
    conversion_events: Type.Optional(ConversionEvents),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String() });
const ListQuery = Type.Object({ env_id: Type.String() });
const AssignQuery = Type.Object(
  { user_id: Type.Optional(Type.String()), anonymous_id: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const LiftQuery = Type.Object({
  holdout_id: Type.String({ minLength: 1 }),
  from: Type.Optional(
    Type.String({ description: 'ISO time or Unix seconds, inclusive (default: the start)' }),
  ),
  to: Type.Optional(Type.String({ description: 'ISO time or Unix seconds, exclusive (now)' })),
  precision: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'half-width asked of the relative lift interval (default 0.05)',
    }),
  ),
});

/** A holdout as the API shows it. */
export function describeHoldout(h: Holdout) {
  return {
    id: h.id,
    env_id: h.env_id,
    name: h.name,
    [h.subject_type === 'audience' ? 'audience_id' : 'campaign_id']: h.subject_id,
    subject_type: h.subject_type,
    fraction: currentFraction(h),
    fraction_history: h.fractions.map((f) => ({
      from: new Date(f.from_ms).toISOString(),
      fraction: f.fraction,
    })),
    conversion_events: h.conversion_events,
    created_at: new Date(h.created_at_ms).toISOString(),
    updated_at: new Date(h.updated_at_ms).toISOString(),
  };
}

function invalid(errors: FieldError[]): HttpError {
  return new HttpError(
    400,
    'invalid_request',
    errors.map((e) => `${e.field} ${e.message}`).join('; '),
    errors,
  );
}

async function holdoutOr404(s: Services, id: string): Promise<Holdout> {
  const h = await s.store.getHoldout(id);
  if (!h) throw new HttpError(404, 'not_found', `no holdout ${id}`);
  return h;
}

/** Refuses a second holdout of the same audience or campaign. */
export async function checkNoHoldout(
  s: Services,
  env_id: string,
  subject: Pick<Holdout, 'subject_type' | 'subject_id'>,
): Promise<void> {
  const had = await s.store.holdoutOfSubject(env_id, subject.subject_type, subject.subject_id);
  if (had)
    throw new HttpError(
      409,
      'holdout_exists',
      `${subject.subject_type} ${subject.subject_id} already has holdout ${had.id}: edit it`,
    );
}

/** `/api/holdouts` and `/api/reports/lift` (issue 23 §3). */
export function holdoutsApi(api: FastifyInstance, s: Services): void {
  const holdouts = s.holdouts;
  api.post<{ Body: Static<typeof CreateBody> }>(
    '/api/holdouts',
    { schema: { summary: 'hold a fraction of an audience or a campaign out', body: CreateBody } },
    async (req, reply) => {
      const b = req.body;
      const errors: FieldError[] = [];
      if (!s.environment(b.env_id))
        errors.push({ field: 'env_id', message: 'is not a configured environment' });
      if ((b.audience_id === undefined) === (b.campaign_id === undefined))
        for (const field of ['audience_id', 'campaign_id'])
          errors.push({ field, message: 'give exactly one of audience_id, campaign_id' });
      if (b.audience_id !== undefined) {
        const a = await s.store.getAudience(b.audience_id);
        if (!a || a.env_id !== b.env_id)
          errors.push({ field: 'audience_id', message: `is not an audience of ${b.env_id}` });
      }
      if (errors.length > 0) throw invalid(errors);
      const subject =
        b.audience_id !== undefined
          ? { subject_type: 'audience' as const, subject_id: b.audience_id }
          : { subject_type: 'campaign' as const, subject_id: b.campaign_id as string };
      await checkNoHoldout(s, b.env_id, subject);
      const h = await holdouts.create({ ...b, ...subject });
      return reply.status(201).send(describeHoldout(h));
    },
  );

  api.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/holdouts',
    { schema: { summary: "an environment's holdouts", querystring: ListQuery } },
    async (req) => ({
      holdouts: (await s.store.listHoldouts(req.query.env_id)).map(describeHoldout),
    }),
  );

  api.get<{ Params: Static<typeof Params> }>(
    '/api/holdouts/:id',
    { schema: { summary: 'one holdout', params: Params } },
    async (req) => describeHoldout(await holdoutOr404(s, req.params.id)),
  );

  api.patch<{ Params: Static<typeof Params>; Body: Static<typeof PatchBody> }>(
    '/api/holdouts/:id',
    {
      schema: {
        summary: 'rename a holdout, change its fraction (from now on) or its conversion events',
        params: Params,
        body: PatchBody,
      },
    },
    async (req) => {
      const h = await holdoutOr404(s, req.params.id);
      return describeHoldout(await holdouts.update(h, req.body));
    },
  );

  api.delete<{ Params: Static<typeof Params> }>(
    '/api/holdouts/:id',
    { schema: { summary: 'end a holdout: everyone is exposed again', params: Params } },
    async (req) => {
      const h = await holdoutOr404(s, req.params.id);
      await holdouts.remove(h);
      return { id: h.id, deleted: true };
    },
  );

  api.get<{ Params: Static<typeof Params>; Querystring: Static<typeof AssignQuery> }>(
    '/api/holdouts/:id/assignment',
    {
      schema: {
        summary: "one person's group (exposed or holdout); for a campaign, their entry",
        params: Params,
        querystring: AssignQuery,
      },
    },
    async (req) => {
      const { user_id, anonymous_id } = req.query;
      if ((user_id === undefined) === (anonymous_id === undefined))
        throw invalid([
          {
            field: user_id === undefined ? 'anonymous_id' : 'user_id',
            message: 'give exactly one of user_id, anonymous_id',
          },
        ]);
      const h = await holdoutOr404(s, req.params.id);
      return user_id !== undefined
        ? holdouts.assign(h, 'user_id', user_id)
        : holdouts.assign(h, 'anonymous_id', anonymous_id as string);
    },
  );

  api.get<{ Querystring: Static<typeof LiftQuery> }>(
    '/api/reports/lift',
    {
      schema: {
        summary: 'lift of one holdout: exposed against held out, with intervals and p-values',
        querystring: LiftQuery,
      },
    },
    async (req) => {
      const q = req.query;
      const h = await holdoutOr404(s, q.holdout_id);
      const from = q.from === undefined ? Math.floor(h.created_at_ms / 1000) : undefined;
      const from_s = from ?? Math.floor(parseTimeMs(q.from as string, 'from') / 1000);
      // Exclusive: what happened in the current second counts.
      const now_s = Math.floor(s.nowMs() / 1000) + 1;
      const to_s = q.to === undefined ? now_s : Math.floor(parseTimeMs(q.to, 'to') / 1000);
      if (to_s <= from_s) throw invalid([{ field: 'to', message: 'must be after from' }]);
      const precision = q.precision ?? DEFAULT_PRECISION;
      return {
        holdout: describeHoldout(h),
        from: new Date(from_s * 1000).toISOString(),
        to: new Date(to_s * 1000).toISOString(),
        ...(await runLiftReport(s.store, h, from_s, Math.min(to_s, now_s), precision)),
      };
    },
  );
}
