import type { AppConfig } from '../domain/config-types.js';
import type { OutboxRecord, Store } from '../store/store.js';
import type { HttpSend } from './destinations/adapter.js';
import type { JobHandler } from './job-handler.js';

/** Observes attempts for logs and metrics. */
export interface DeliveryObserver {
  attempted(d: { outbox: OutboxRecord }, verdict: string, detail: string | null): void;
  paused(env_id: string, dest_id: string, reason: string): void;
  workerError(message: string): void;
}

/** What the delivery worker (worker.ts), its lanes (worker.ts too) and attempts (attempt.ts) use. */
export interface WorkerDeps {
  store: Store;
  /** The current config snapshot (its destinations change at run time). */
  config: () => AppConfig;
  send: HttpSend;
  nowMs: () => number;
  random: () => number;
  owner: string;
  observer?: DeliveryObserver;
  /** Brings the destinations up to date (saved in another process) before rows are given up. */
  refreshDestinations?: () => Promise<void>;
  /** Kinds of outbox jobs besides conversions, and how to send each. */
  jobs?: readonly JobHandler[];
}
