import type { DestinationConfig } from '../domain/config-types.js';
import type { AudienceSchedule } from '../store/store.js';
import type { AudienceServiceDeps, LoadedAudience } from './audience.js';
import { EXPORT_PLATFORMS, type ExportPlatform } from './audience-export.js';
import type { SyncPlan, SyncTarget } from './audience-sync.js';

// Scheduled syncs: an audience's list of destinations synced every so often, and the timer's
// run that queues the due ones.

/** Scheduled syncs taken per run of the timer. */
const SCHEDULES_PER_RUN = 100;

/** Replaces the audience's scheduled syncs; each first runs at once, then `every_ms`. */
export async function setSchedules(
  deps: Pick<AudienceServiceDeps, 'store' | 'nowMs'>,
  a: LoadedAudience,
  schedules: ReadonlyArray<Omit<AudienceSchedule, 'next_run_at_ms' | 'last_run_at_ms'>>,
): Promise<void> {
  const now = deps.nowMs();
  await deps.store.putSchedules(
    a.record.env_id,
    a.record.id,
    schedules.map((x) => ({ ...x, next_run_at_ms: now, last_run_at_ms: null })),
  );
}

/**
 * Runs the scheduled syncs that are due: each queues the delta since the audience's last
 * sync to that destination. An audience under its minimum size sends nothing this time.
 */
export async function runScheduledSyncs(
  deps: AudienceServiceDeps,
  get: (id: string) => Promise<LoadedAudience | null>,
  sync: (a: LoadedAudience, dest: DestinationConfig, target: SyncTarget) => Promise<SyncPlan>,
): Promise<number> {
  const due = await deps.store.claimDueSchedules(deps.nowMs(), SCHEDULES_PER_RUN);
  let queued = 0;
  for (const s of due) {
    try {
      const a = await get(s.audience_id);
      const dest = deps.destination(s.env_id, s.dest_id);
      if (!a || !dest || !EXPORT_PLATFORMS.includes(dest.type as ExportPlatform)) {
        deps.onError?.(`scheduled sync of ${s.audience_id} to ${s.dest_id}: no such target`);
        continue;
      }
      const size = await deps.store.audienceSize(s.env_id, s.audience_id);
      if (size < a.record.min_export_size) continue;
      queued += (await sync(a, dest, s)).deliveries.length;
    } catch (e) {
      deps.onError?.(`scheduled sync failed: ${(e as Error).message}`);
    }
  }
  return queued;
}
