import { findDestination } from '../config/find-destination.js';
import type { AppConfig, DestinationConfig } from '../domain/config-types.js';
import type { ClaimedDelivery, ClaimedJob } from '../store/store.js';
import {
  attemptBatch,
  attemptJob,
  type Batch,
  dropped,
  type Entry,
  mustWait,
  record,
} from './attempt.js';
import { adapterFor } from './destinations/registry.js';
import type { JobHandler } from './job-handler.js';
import type { WorkerDeps } from './worker-deps.js';

export type { DeliveryObserver, WorkerDeps } from './worker-deps.js';

/** Rows claimed per round. */
const CLAIM_BATCH_ROWS = 500;
/** Jobs claimed per round and kind; each is one request of up to thousands of rows. */
const CLAIM_BATCH_JOBS = 50;
/**
 * Destinations sent to at once per worker; each destination gets one request at a time, so
 * that its conversions arrive in order (batching platforms carry up to 1000 rows each).
 */
const SEND_CONCURRENCY = 32;
const IDLE_POLL_MS = 250;
/**
 * Shortest time between two rounds started by wake(). Ingest wakes the worker after each
 * commit that queued deliveries, and commits come as often as the store takes them (the
 * adaptive group commit); a claim reads the outbox's pending rows, so a round per commit
 * would cost more than the commit itself. A row waits this much longer at most.
 */
const MIN_WAKE_GAP_MS = 10;

/**
 * Drains the outbox: claims due rows under a lease, groups them per destination into the
 * platform's batch size, sends each batch through its adapter, and records every row's
 * attempt and next state. The parts: the lanes below (one lane per destination, in order),
 * attempt.ts (one attempt of a conversion batch or a job: send, classify, next state).
 */
export class DeliveryWorker {
  private running = false;
  /** Set by stop(): lanes finish the request in flight and hand the rest back. */
  private stopping = false;
  private loops: Promise<void>[] = [];
  private wakeUps = new Set<() => void>();
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    // Jobs (audience batches of thousands of rows) drain in a loop of their own: a platform
    // slow to take one must not hold back the next round of conversions.
    this.loops = [this.run(() => this.drainConversions()), this.run(() => this.drainJobs())];
  }

  /** Stops claiming, and waits for the sends already in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wake();
    await Promise.all(this.loops);
    await Promise.all(this.inFlight);
  }

  /** New rows are waiting; skip the idle sleep. */
  wake(): void {
    for (const w of [...this.wakeUps]) w();
  }

  /** Claims one round of due rows and jobs and sends them; returns how many were claimed. */
  async drainOnce(): Promise<number> {
    return (await this.drainConversions()) + (await this.drainJobs());
  }

  private async run(drain: () => Promise<number>): Promise<void> {
    while (this.running) {
      const started = performance.now();
      let claimed = 0;
      try {
        claimed = await drain();
      } catch (e) {
        this.deps.observer?.workerError((e as Error).message);
      }
      if (claimed === 0 && this.running) {
        await new Promise<void>((resolve) => {
          let t = setTimeout(() => done(), IDLE_POLL_MS);
          const done = () => {
            clearTimeout(t);
            this.wakeUps.delete(wake);
            resolve();
          };
          const wake = () => {
            const wait = MIN_WAKE_GAP_MS - (performance.now() - started);
            if (wait <= 0 || !this.running) return done();
            // Woken too soon after the last round: the round starts once the gap is over.
            this.wakeUps.delete(wake);
            clearTimeout(t);
            t = setTimeout(done, wait);
          };
          this.wakeUps.add(wake);
        });
      }
    }
  }

  private async pausedSet(): Promise<Set<string>> {
    return new Set(
      (await this.deps.store.pausedDestinations()).map((p) => `${p.env_id}/${p.dest_id}`),
    );
  }

  /** Claims one round of due conversion rows and sends them, lanes concurrently. */
  private async drainConversions(): Promise<number> {
    const { store, owner, config } = this.deps;
    const paused = await this.pausedSet();
    const rows = await store.claimDeliveries(
      this.deps.nowMs(),
      CLAIM_BATCH_ROWS,
      config().delivery_lease_ms,
      owner,
      paused,
    );
    let { batches, orphans } = group(config(), rows);
    if (orphans.length > 0 && this.deps.refreshDestinations) {
      // Another process may have just made this destination; look before failing its rows.
      await this.deps.refreshDestinations();
      ({ batches, orphans } = group(config(), rows));
    }
    if (orphans.length > 0) {
      const at = this.deps.nowMs();
      await store.finishAttempts(
        orphans.map((d) => {
          const { attempt, update } = dropped(d, at, 'destination no longer configured');
          return { attempt, update };
        }),
      );
    }
    // Rows not yet recorded keep their lease while the round lasts, however slow the
    // receivers: an expired lease would let another worker send them a second time.
    const lane = this.lane(rows.map((r) => r.outbox.id));
    const lanes = lanesOf(batches, (b) => `${b.rows[0].outbox.env_id}/${b.dest.id}`);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < lanes.length) await runLane(lane, lanes[next++]);
    };
    await this.runLeased(
      lane.unfinished,
      Array.from({ length: Math.min(SEND_CONCURRENCY, lanes.length) }, () => worker),
    );
    return rows.length;
  }

  /** Claims due jobs of each kind and sends them, one lane per destination and kind. */
  private async drainJobs(): Promise<number> {
    const { store, owner } = this.deps;
    const paused = await this.pausedSet();
    let claimed = 0;
    for (const handler of this.deps.jobs ?? []) {
      const jobs = await store.claimJobs(
        handler.kind,
        this.deps.nowMs(),
        CLAIM_BATCH_JOBS,
        this.deps.config().delivery_lease_ms,
        owner,
        paused,
      );
      claimed += jobs.length;
      if (jobs.length === 0) continue;
      const lane = this.lane(jobs.map((j) => j.outbox.id));
      const lanes = lanesOf(jobs, (j: ClaimedJob) => `${j.outbox.env_id}/${j.outbox.dest_id}`);
      await this.runLeased(
        lane.unfinished,
        lanes.map((jobsOfLane) => () => runJobLane(lane, handler, jobsOfLane)),
      );
    }
    return claimed;
  }

  private lane(ids: number[]): LaneContext {
    return { deps: this.deps, stopping: () => this.stopping, unfinished: new Set(ids) };
  }

  /**
   * Runs `lanes` at once, each tracked so that stop() waits for it, while the leases of the
   * ids still in `unfinished` are renewed every lease/3; rethrows the first lane's failure.
   */
  private async runLeased(
    unfinished: Set<number>,
    lanes: ReadonlyArray<() => Promise<void>>,
  ): Promise<void> {
    const { store, owner } = this.deps;
    const leaseMs = this.deps.config().delivery_lease_ms;
    const renew = setInterval(
      () => {
        store
          .extendLeases(owner, [...unfinished], this.deps.nowMs() + leaseMs)
          .catch((e: Error) => this.deps.observer?.workerError(`lease renewal: ${e.message}`));
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    renew.unref();
    try {
      const running = lanes.map((run) => {
        const p = run().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
        return p;
      });
      const failed = (await Promise.allSettled(running)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      clearInterval(renew);
    }
  }
}

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
