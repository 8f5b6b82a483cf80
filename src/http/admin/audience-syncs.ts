import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { EXPORT_PLATFORMS, type ExportPlatform } from '../../audiences/audience-export.js';
import type { LoadedAudience } from '../../audiences/audience-service.js';
import type { SyncTarget } from '../../audiences/audience-sync.js';
import { findDestination } from '../../config/find-destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import { formatDurationMs, parseDurationMs } from '../../domain/duration.js';
import type { FieldError } from '../../domain/validation-error.js';
import type { AudienceSchedule } from '../../store/store.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

/** Scheduled syncs run at most this often. */
const MIN_SYNC_EVERY_MS = 60_000;
/** Sync jobs shown per audience. */
const SYNC_LOG_JOBS = 200;

const targetFields = {
  dest_id: Type.String({ minLength: 1 }),
  platform_audience_id: Type.String({
    minLength: 1,
    description: 'Meta custom audience id, TikTok audience id, Google user list id',
  }),
  advertiser_id: Type.Optional(Type.String({ minLength: 1, description: 'TikTok only' })),
};
const SyncBody = Type.Object(targetFields, { additionalProperties: false });
/** One scheduled sync, as `POST`/`PATCH /api/audiences` take it in `syncs`. */
export const ScheduleBody = Type.Object(
  { ...targetFields, every: Type.String({ description: 'e.g. 6h, 1d' }) },
  { additionalProperties: false },
);
const AudienceParams = Type.Object({ id: Type.String() });

/** Refuses an export of an audience smaller than its minimum, to protect individuals. */
export async function checkMinimum(s: Services, a: LoadedAudience): Promise<number> {
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

/** The destination a sync names, or the problems with it (fields under `prefix`). */
function syncDestination(
  s: Services,
  env_id: string,
  b: Static<typeof SyncBody>,
  prefix: string,
): { dest: DestinationConfig; errors: FieldError[] } | { dest: null; errors: FieldError[] } {
  const dest = findDestination(s.environment(env_id), b.dest_id);
  if (!dest || !EXPORT_PLATFORMS.includes(dest.type as ExportPlatform)) {
    return {
      dest: null,
      errors: [
        {
          field: `${prefix}dest_id`,
          message: "is not a meta, tiktok or google_ads destination of the audience's environment",
        },
      ],
    };
  }
  if (dest.type === 'tiktok' && !b.advertiser_id)
    return {
      dest: null,
      errors: [{ field: `${prefix}advertiser_id`, message: 'is required for TikTok' }],
    };
  return { dest, errors: [] };
}

/**
 * Checks the `syncs` of a create or edit; answers them as schedules, or throws a 400 naming
 * every bad field (`syncs[0].every`…).
 */
export function parseSchedules(
  s: Services,
  env_id: string,
  syncs: ReadonlyArray<Static<typeof ScheduleBody>>,
): Array<Omit<AudienceSchedule, 'next_run_at_ms' | 'last_run_at_ms'>> {
  const errors: FieldError[] = [];
  const out = syncs.map((x, i) => {
    errors.push(...syncDestination(s, env_id, x, `syncs[${i}].`).errors);
    const every = parseDurationMs(x.every);
    if (every === null || every < MIN_SYNC_EVERY_MS)
      errors.push({ field: `syncs[${i}].every`, message: 'must be a duration of at least 1m' });
    if (syncs.findIndex((y) => y.dest_id === x.dest_id) !== i)
      errors.push({ field: `syncs[${i}].dest_id`, message: 'is scheduled twice' });
    return {
      dest_id: x.dest_id,
      platform_audience_id: x.platform_audience_id,
      advertiser_id: x.advertiser_id ?? null,
      every_ms: every ?? 0,
    };
  });
  if (errors.length > 0)
    throw new HttpError(
      400,
      'invalid_request',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    );
  return out;
}

/** An audience's schedules as the admin API shows them. */
export function describeSchedules(schedules: readonly AudienceSchedule[]) {
  return schedules.map((x) => ({
    dest_id: x.dest_id,
    platform_audience_id: x.platform_audience_id,
    ...(x.advertiser_id ? { advertiser_id: x.advertiser_id } : {}),
    every: formatDurationMs(x.every_ms),
    last_run_at: x.last_run_at_ms === null ? null : new Date(x.last_run_at_ms).toISOString(),
    next_run_at: new Date(x.next_run_at_ms).toISOString(),
  }));
}

/** `POST /api/audiences/:id/sync` and its log (issue 9). */
export function audienceSyncsApi(
  api: FastifyInstance,
  s: Services,
  audienceOr404: (id: string) => Promise<LoadedAudience>,
): void {
  api.post<{ Params: Static<typeof AudienceParams>; Body: Static<typeof SyncBody> }>(
    '/api/audiences/:id/sync',
    {
      schema: {
        summary: 'sync the audience to an ad platform now',
        params: AudienceParams,
        body: SyncBody,
      },
    },
    async (req, reply) => {
      const a = await audienceOr404(req.params.id);
      const { dest, errors } = syncDestination(s, a.record.env_id, req.body, '');
      if (!dest)
        throw new HttpError(
          400,
          'invalid_request',
          errors.map((e) => `${e.field} ${e.message}`).join('; '),
          errors,
        );
      const size = await checkMinimum(s, a);
      const target: SyncTarget = {
        platform_audience_id: req.body.platform_audience_id,
        advertiser_id: req.body.advertiser_id ?? null,
      };
      const plan = await s.audiences.sync(a, dest, target);
      return reply.status(202).send({ status: 'queued', size, ...plan });
    },
  );

  api.get<{ Params: Static<typeof AudienceParams> }>(
    '/api/audiences/:id/syncs',
    { schema: { summary: "the audience's syncs and their state", params: AudienceParams } },
    async (req) => {
      const a = await audienceOr404(req.params.id);
      const jobs = await s.store.listAudienceJobs(a.record.env_id, a.record.id, SYNC_LOG_JOBS);
      return {
        jobs: jobs.map(({ outbox, job, attempts }) => ({
          delivery_id: outbox.id,
          dest_id: outbox.dest_id,
          action: job?.action ?? null,
          rows: job ? (job.rows ?? job.persons.length) : null,
          status: outbox.status,
          created_at: new Date(outbox.created_at_ms).toISOString(),
          attempts: attempts.map((x) => ({
            at: new Date(x.at_ms).toISOString(),
            status_code: x.status_code,
            verdict: x.verdict,
            error: x.error,
            response_excerpt: x.response_excerpt,
          })),
        })),
      };
    },
  );
}
