import type { Touch, TrackedEvent } from '../domain/event.js';
import type { Store } from '../store/store.js';
import { protectTouch } from './ingest-privacy.js';
import {
  type BatchContext,
  type EventOutcome,
  type IngestItem,
  processBatch,
} from './process-batch.js';

/** Items written in one transaction at most. */
export const MAX_BATCH_ITEMS = 2000;
/** Items waiting for a flush before writers are made to wait (backpressure). */
export const MAX_PENDING_ITEMS = 20_000;

interface Pending {
  item: IngestItem;
  resolve: (o: EventOutcome | null) => void;
  reject: (e: unknown) => void;
}

/** Observes flushes for metrics. */
export interface PipelineObserver {
  flushed(
    items: readonly IngestItem[],
    outcomes: ReadonlyArray<EventOutcome | null>,
    ms: number,
  ): void;
  failed(items: number, error: unknown): void;
}

export interface PipelineDeps {
  store: Store;
  context: () => Omit<BatchContext, 'nowMs'>;
  nowMs: () => number;
  flushIntervalMs: number;
  observer?: PipelineObserver;
}

/**
 * Group commit for the hot path (DESIGN §8): writes wait up to `flushIntervalMs` and are
 * committed together, one transaction per batch, one batch at a time. The pixel answers
 * before its write; the server API awaits the commit of its batch.
 */
export class IngestPipeline {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private roomWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly deps: PipelineDeps) {}

  /** Items waiting for a flush. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when there is room in the queue; pixel handlers await it under overload. */
  waitForRoom(): Promise<void> {
    if (this.queue.length < MAX_PENDING_ITEMS) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Queues a touch; the promise settles when it is committed. */
  recordTouch(touch: Touch): Promise<void> {
    return this.submit({ kind: 'touch', touch }).then(() => undefined);
  }

  /** Queues events; resolves with each one's outcome once committed. */
  recordEvents(events: readonly TrackedEvent[]): Promise<EventOutcome[]> {
    return Promise.all(
      events.map((event) => this.submit({ kind: 'event', event }) as Promise<EventOutcome>),
    );
  }

  private submit(item: IngestItem): Promise<EventOutcome | null> {
    if (this.closed) return Promise.reject(new Error('ingest pipeline is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= MAX_BATCH_ITEMS) void this.flush();
      else if (!this.timer)
        this.timer = setTimeout(() => void this.flush(), this.deps.flushIntervalMs);
    });
  }

  /** Commits everything queued so far. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, MAX_BATCH_ITEMS);
    this.flushing = this.write(batch).finally(() => {
      this.flushing = null;
      this.releaseRoom();
    });
    await this.flushing;
    if (this.queue.length > 0 && !this.timer) this.timer = setTimeout(() => void this.flush(), 0);
  }

  private async write(batch: Pending[]): Promise<void> {
    const started = Date.now();
    try {
      // Touches first, on the store's own path (a writer thread under SQLite), so that the
      // conversions in this batch see the impressions that came before them.
      const touches: Touch[] = [];
      const events: TrackedEvent[] = [];
      const { environment } = this.deps.context();
      for (const p of batch) {
        if (p.item.kind === 'touch')
          touches.push(protectTouch(p.item.touch, environment(p.item.touch.env_id)));
        else events.push(p.item.event);
      }
      await this.deps.store.insertTouches(touches);
      let eventOutcomes: EventOutcome[] = [];
      if (events.length > 0) {
        const ctx = { ...this.deps.context(), nowMs: this.deps.nowMs() };
        eventOutcomes = await this.deps.store.ingest((tx) => processBatch(tx, events, ctx));
      }
      // Outcomes line up with the batch: null for a touch, the next event's outcome otherwise.
      let next = 0;
      const outcomes = batch.map((p) => (p.item.kind === 'event' ? eventOutcomes[next++] : null));
      for (const [i, p] of batch.entries()) p.resolve(outcomes[i]);
      this.deps.observer?.flushed(
        batch.map((p) => p.item),
        outcomes,
        Date.now() - started,
      );
    } catch (e) {
      for (const p of batch) p.reject(e);
      this.deps.observer?.failed(batch.length, e);
    }
  }

  private releaseRoom(): void {
    while (this.roomWaiters.length > 0 && this.queue.length < MAX_PENDING_ITEMS)
      this.roomWaiters.shift()?.();
  }

  /** Flushes what is queued and refuses new writes (graceful stop). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.flushing) await this.flush();
  }
}
