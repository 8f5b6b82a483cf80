import { findDestination } from '../config/find-destination.js';
import type { AppConfig, DestinationConfig } from '../domain/config-types.js';
import type { ClaimedDelivery, ClaimedJob } from '../store/store.js';
import { attemptBatch, attemptJob, type Batch, type Entry, mustWait, record } from './attempt.js';
import { adapterFor } from './destinations/registry.js';
import type { JobHandler } from './job-handler.js';
import type { WorkerDeps } from './worker-deps.js';

/** A lane records its attempts at least this often, in rows and in milliseconds. */
const RECORD_EVERY_ROWS = 25;
const RECORD_EVERY_MS = 100;

/** What a lane needs of the worker running it. */
export interface LaneContext {
  deps: WorkerDeps;
  /** Set by the worker's stop(): lanes finish the request in flight and hand the rest back. */
  stopping: () => boolean;
  /** Claimed rows not yet recorded (or handed back): their leases are renewed meanwhile. */
  unfinished: Set<number>;
}

/** The destination a row is for, in the config as it stands. */
export function destinationOf(
  config: AppConfig,
  row: { outbox: { env_id: string; dest_id: string } },
): DestinationConfig | undefined {
  const env = config.environments.find((e) => e.id === row.outbox.env_id);
  return findDestination(env, row.outbox.dest_id);
}

/**
 * Groups claimed conversions into batches of the platform's size, per destination and test
 * code (test events go in requests of their own: the code is per request); rows whose
 * destination is gone (or has no adapter) are the orphans.
 */
export function group(
  config: AppConfig,
  rows: ClaimedDelivery[],
): { batches: Batch[]; orphans: ClaimedDelivery[] } {
  const byDest = new Map<string, Batch>();
  const orphans: ClaimedDelivery[] = [];
  for (const d of rows) {
    const dest = destinationOf(config, d);
    if (!dest || !adapterFor(dest.type)) {
      orphans.push(d);
      continue;
    }
    const testCode = d.event.test_code;
    const key = `${d.outbox.env_id}/${dest.id}/${testCode ?? ''}`;
    const b = byDest.get(key) ?? { dest, rows: [], ...(testCode ? { testCode } : {}) };
    b.rows.push(d);
    byDest.set(key, b);
  }
  const batches: Batch[] = [];
  for (const b of byDest.values()) {
    const adapter = adapterFor(b.dest.type);
    const limit = adapter?.maxBatchFor?.(b.dest, b.dest.settings) ?? adapter?.maxBatch ?? 1;
    const size = Math.max(1, Math.min(b.dest.batch.size, limit));
    for (let i = 0; i < b.rows.length; i += size)
      batches.push({ ...b, rows: b.rows.slice(i, i + size) });
  }
  return { batches, orphans };
}

/** One lane per destination (env and id): its batches, in id order. */
export function lanesOf<T>(items: T[], keyOf: (x: T) => string): T[][] {
  const lanes = new Map<string, T[]>();
  for (const x of items) {
    const key = keyOf(x);
    const lane = lanes.get(key) ?? [];
    lane.push(x);
    lanes.set(key, lane);
  }
  return [...lanes.values()];
}

/**
 * Sends one destination's conversion batches in order: at most `max_in_flight` at once (1:
 * strictly one after the other), and after a batch that must be retried (or that paused the
 * destination) none behind it starts; the rows behind it are handed back unsent, to follow
 * once the head row gets through.
 *
 * Attempts are recorded every RECORD_EVERY_ROWS rows or RECORD_EVERY_MS (one transaction
 * each, not one per request): a crash in between re-sends those rows under their lease,
 * with the same idempotency key.
 */
export async function runLane(lane: LaneContext, queue: Batch[]): Promise<void> {
  const { deps, unfinished } = lane;
  let unrecorded: Entry[] = [];
  let recordedAt = Date.now();
  const flush = async () => {
    const entries = unrecorded;
    unrecorded = [];
    recordedAt = Date.now();
    await record(deps, entries);
    for (const e of entries) unfinished.delete(e.d.outbox.id);
  };
  const window = Math.max(1, queue[0]?.dest.max_in_flight ?? 1);
  const sending = new Set<Promise<void>>();
  let next = 0;
  let blocked = false;
  const send = async (b: Batch) => {
    const entries = await attemptBatch(deps, b);
    unrecorded.push(...entries);
    if (mustWait(entries)) blocked = true;
    if (unrecorded.length >= RECORD_EVERY_ROWS || Date.now() - recordedAt >= RECORD_EVERY_MS)
      await flush();
  };
  try {
    while (next < queue.length && !blocked && !lane.stopping()) {
      if (sending.size >= window) {
        await Promise.race(sending);
        continue;
      }
      const p: Promise<void> = send(queue[next++]).finally(() => sending.delete(p));
      sending.add(p);
    }
    await Promise.all(sending);
    const rest = queue.slice(next).flatMap((b) => b.rows.map((r) => r.outbox.id));
    await handBack(lane, rest);
  } finally {
    if (unrecorded.length > 0) await flush();
  }
}

/** Sends one destination's jobs of one kind in order; stops at the first that must wait. */
export async function runJobLane(
  lane: LaneContext,
  h: JobHandler,
  jobs: ClaimedJob[],
): Promise<void> {
  const { deps, unfinished } = lane;
  for (let i = 0; i < jobs.length; i++) {
    const wait = lane.stopping() || (await sendJob(deps, h, jobs[i]));
    unfinished.delete(jobs[i].outbox.id);
    if (wait) {
      await handBack(
        lane,
        jobs.slice(lane.stopping() ? i : i + 1).map((j) => j.outbox.id),
      );
      return;
    }
  }
}

/** Sends one job and records its attempt; true when the jobs behind it must wait. */
async function sendJob(deps: WorkerDeps, h: JobHandler, job: ClaimedJob): Promise<boolean> {
  let dest = destinationOf(deps.config(), job);
  if (!dest && deps.refreshDestinations) {
    // As for conversions: the destination may have been saved by another process.
    await deps.refreshDestinations();
    dest = destinationOf(deps.config(), job);
  }
  const entries = await attemptJob(deps, h, job, dest);
  if (entries.length > 0) await record(deps, entries);
  return mustWait(entries);
}

/** Gives unsent rows back (their lease ends now) for a later round or another worker. */
async function handBack(lane: LaneContext, ids: number[]): Promise<void> {
  for (const id of ids) lane.unfinished.delete(id);
  if (ids.length > 0)
    await lane.deps.store.extendLeases(lane.deps.owner, ids, lane.deps.nowMs() - 1);
}
