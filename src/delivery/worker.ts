import type { ClaimedJob } from '../store/store.js';
import { dropped } from './attempt.js';
import { group, type LaneContext, lanesOf, runJobLane, runLane } from './lanes.js';
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
 * Drains the outbox: claims due rows under a lease, groups them per destination into the
 * platform's batch size, sends each batch through its adapter, and records every row's
 * attempt and next state. The parts: lanes.ts (one lane per destination, in order),
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
      let claimed = 0;
      try {
        claimed = await drain();
      } catch (e) {
        this.deps.observer?.workerError((e as Error).message);
      }
      if (claimed === 0 && this.running) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(t);
            this.wakeUps.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, IDLE_POLL_MS);
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
