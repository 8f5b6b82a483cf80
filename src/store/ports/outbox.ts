import type { AttemptRecord, ClaimedDelivery, ClaimedJob, OutboxUpdate } from '../records.js';

/** The delivery queue: leases, attempts, pauses and re-queues (the worker and the admin API). */
export interface OutboxPort {
  claimDeliveries(
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedDelivery[]>;
  /**
   * Leases due jobs of one kind (same rules as conversions: a destination's jobs of a kind go
   * out in id order, paused destinations wait).
   */
  claimJobs(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedJob[]>;
  /** Records attempts and moves their rows on, in one transaction. */
  finishAttempts(
    entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
  ): Promise<void>;
  /**
   * Pushes the lease of rows this owner still holds (and has not finished) to `until_ms`,
   * so a slow round is not claimed again by another worker mid-send. Returns the ids it
   * still held: a row missing from the answer now belongs to another worker.
   */
  extendLeases(owner: string, ids: readonly number[], until_ms: number): Promise<number[]>;
  /** Owners of leases that have not expired yet. */
  leaseOwners(now_ms: number): Promise<string[]>;
  /** Frees the leases of owners known to be dead, so their rows need not wait for expiry. */
  releaseLeases(owners: readonly string[]): Promise<number>;
  pausedDestinations(): Promise<Array<{ env_id: string; dest_id: string; reason: string | null }>>;
  setDestinationPaused(
    env_id: string,
    dest_id: string,
    paused: boolean,
    reason: string | null,
    now_ms: number,
  ): Promise<void>;
  /** Puts a dead or failed row back in the queue; false when there is no such row. */
  retryDelivery(id: number, now_ms: number): Promise<boolean>;
  /** Re-queues every conversion of a destination created in [from, to); returns how many. */
  requeueRange(
    env_id: string,
    dest_id: string,
    from_ms: number,
    to_ms: number,
    now_ms: number,
  ): Promise<number>;
  /** Marks an environment's pending deliveries delivered without sending (seeded demo data). */
  settleDeliveries(env_id: string, now_ms: number): Promise<number>;
}
