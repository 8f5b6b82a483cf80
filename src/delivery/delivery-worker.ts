import type { AppConfig, DestinationConfig } from '../config/config-types.js';
import { classifyAttempt, nextAttemptAt } from '../domain/delivery-policy.js';
import type { ClaimedDelivery, OutboxUpdate, Store } from '../store/store.js';
import type { HttpSend } from './destination.js';
import { adapterFor } from './destinations/registry.js';

/** Rows claimed per round. */
const CLAIM_BATCH_ROWS = 50;
/** A claimed row is taken back from a worker that has not finished it by then. */
export const LEASE_MS = 60_000;
const IDLE_POLL_MS = 250;

/** Observes attempts for logs and metrics. */
export interface DeliveryObserver {
  attempted(d: ClaimedDelivery, verdict: string, detail: string | null): void;
  paused(env_id: string, dest_id: string, reason: string): void;
  workerError(message: string): void;
}

export interface WorkerDeps {
  store: Store;
  config: AppConfig;
  send: HttpSend;
  nowMs: () => number;
  random: () => number;
  owner: string;
  observer?: DeliveryObserver;
}

/**
 * Drains the outbox: claims due rows under a lease, sends each through its destination
 * adapter, and records the attempt and the row's next state in one transaction.
 */
export class DeliveryWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming, and waits for the sends already in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await Promise.all(this.inFlight);
  }

  /** New rows are waiting; skip the idle sleep. */
  wake(): void {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.drainOnce();
      } catch (e) {
        this.deps.observer?.workerError((e as Error).message);
      }
      if (claimed === 0 && this.running) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, IDLE_POLL_MS);
          this.wakeUp = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeUp = null;
      }
    }
  }

  /** Claims one round of due rows and sends them concurrently; returns how many. */
  async drainOnce(): Promise<number> {
    const { store, owner } = this.deps;
    const paused = new Set(
      (await store.pausedDestinations()).map((p) => `${p.env_id}/${p.dest_id}`),
    );
    const rows = await store.claimDeliveries(
      this.deps.nowMs(),
      CLAIM_BATCH_ROWS,
      LEASE_MS,
      owner,
      paused,
    );
    const sends = rows.map((d) => {
      const p = this.deliver(d).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
      return p;
    });
    await Promise.all(sends);
    return rows.length;
  }

  private destination(d: ClaimedDelivery): DestinationConfig | undefined {
    return this.deps.config.environments
      .find((e) => e.id === d.outbox.env_id)
      ?.destinations.find((x) => x.id === d.outbox.dest_id);
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const { store, nowMs, random } = this.deps;
    const dest = this.destination(d);
    const at = nowMs();
    if (!dest) {
      await store.finishAttempt(
        {
          outbox_id: d.outbox.id,
          env_id: d.outbox.env_id,
          at_ms: at,
          duration_ms: 0,
          status_code: null,
          error: 'destination no longer configured',
          verdict: 'drop',
          response_excerpt: null,
        },
        { status: 'failed' },
      );
      return;
    }
    const req = adapterFor(dest.type).buildRequest(d.conversion, dest);
    const result = await this.deps.send(req, dest.timeout_ms);
    const done = nowMs();
    const verdict = classifyAttempt(
      result.kind === 'network'
        ? result
        : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
      done,
    );
    let update: OutboxUpdate;
    if (verdict.action === 'done') update = { status: 'delivered' };
    else if (verdict.action === 'retry') {
      const next = nextAttemptAt(
        verdict,
        d.outbox.attempts + 1,
        d.outbox.first_attempt_at_ms ?? at,
        done,
        dest.retry,
        random,
      );
      update = next === null ? { status: 'dead' } : { status: 'pending', next_attempt_at_ms: next };
    } else update = { status: 'failed' };
    const reason = verdict.action === 'done' ? null : verdict.reason;
    await store.finishAttempt(
      {
        outbox_id: d.outbox.id,
        env_id: d.outbox.env_id,
        at_ms: at,
        duration_ms: done - at,
        status_code: result.kind === 'response' ? result.status : null,
        error: reason,
        verdict: update.status === 'dead' ? 'dead-letter' : verdict.action,
        response_excerpt: result.kind === 'response' ? result.bodyExcerpt : null,
      },
      update,
    );
    if (verdict.action === 'pause') {
      await store.setDestinationPaused(
        d.outbox.env_id,
        d.outbox.dest_id,
        true,
        verdict.reason,
        done,
      );
      this.deps.observer?.paused(d.outbox.env_id, d.outbox.dest_id, verdict.reason);
    }
    this.deps.observer?.attempted(
      d,
      update.status === 'dead' ? 'dead-letter' : verdict.action,
      reason,
    );
  }
}
