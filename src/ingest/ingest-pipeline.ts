import type { Touch, TrackedEvent } from '../domain/event.js';
import type { ImpressionView } from '../domain/viewability.js';
import type { IngestTx, Store } from '../store/store.js';
import type { BatchContext, EventOutcome } from './batch-context.js';
import { arrive, processEvent } from './conversions.js';
import { protectTouch } from './ingest-privacy.js';
import { isInputError } from './input-error.js';
import { processBatchSetWise } from './process-batch-set-wise.js';
import { ViewQueue } from './view-queue.js';

export type { BatchContext, EventOutcome, IngestItem } from './batch-context.js';

/** Touches written in one transaction at most (SQLite: on the writer thread). */
export const MAX_BATCH_ITEMS = 2000;
/**
 * Events processed in one transaction at most. Under SQLite a batch runs on the event loop
 * from start to commit, so pixels wait for it: small batches keep that wait short.
 */
export const MAX_EVENT_BATCH = 250;
/**
 * Pixel touches held in memory (waiting for their commit, or for the store to come back)
 * before new hits are dropped and counted. Bounds memory, and what a crash can lose while
 * the store cannot commit.
 */
export const MAX_PENDING_TOUCHES = 20_000;
/** Events waiting for a commit before new ones are refused (the API answers 503). */
export const MAX_PENDING_EVENTS = 10_000;
/**
 * Longest an event batch runs before it lets the event loop answer what is waiting (pixels
 * above all). Under SQLite a batch is synchronous work from its first query to its commit;
 * 250 events with attribution took 20-50 ms, and the pixel's p99 with them.
 */
export const EVENT_SLICE_MS = 4;
/**
 * Event batches committing at once on PostgreSQL, each on a connection of its own (the pool
 * has 10): the server's CPU works on one batch while PostgreSQL's works on another. SQLite
 * has one writer, and commits one batch after another.
 */
export const PG_EVENT_BATCHES_IN_FLIGHT = 4;
/** Wait before retrying touches whose commit failed (the store is down or full). */
const TOUCH_RETRY_MS = 250;
/** How long a graceful stop keeps retrying buffered writes against a failing store. */
const CLOSE_RETRY_MS = 10_000;

/** Why the pipeline did not take a write. */
export type RefusalReason = 'queue_full' | 'closed';

/** A write the pipeline did not take, or an event batch whose commit failed. */
export class IngestRefused extends Error {
  constructor(
    readonly reason: RefusalReason | 'store_unavailable',
    readonly cause?: unknown,
  ) {
    super(`ingest refused: ${reason}`);
  }
}

/**
 * A request's events waiting for their commit, answered together: one promise a request, not
 * one (with its two closures) an event, which Promise.all then gathered (issue 22).
 */
interface PendingRequest {
  outcomes: EventOutcome[];
  /** Events not yet answered. */
  left: number;
  settled: boolean;
  resolve: (o: EventOutcome[]) => void;
  reject: (e: unknown) => void;
}

interface PendingEvent {
  event: TrackedEvent;
  /** True for the last event of its request (batches in flight side by side end there). */
  last: boolean;
  request: PendingRequest;
  /** Its place in the request. */
  index: number;
}

/** Answers one event; its request resolves once all of its events are answered. */
function answer(p: PendingEvent, outcome: EventOutcome): void {
  const r = p.request;
  r.outcomes[p.index] = outcome;
  r.left--;
  if (r.left === 0 && !r.settled) {
    r.settled = true;
    r.resolve(r.outcomes);
  }
}

/** Fails one event, and with it its request (its first failure is the one it rejects with). */
function fail(p: PendingEvent, error: unknown): void {
  const r = p.request;
  if (r.settled) return;
  r.settled = true;
  r.reject(error);
}

/** Observes flushes and refusals for metrics and logs. */
export interface PipelineObserver {
  touchesCommitted(touches: readonly Touch[], ms: number): void;
  eventsCommitted(events: readonly TrackedEvent[], outcomes: readonly EventOutcome[]): void;
  viewsCommitted?(views: readonly ImpressionView[]): void;
  /** A commit failed; touches are kept for a retry, events are answered with an error. */
  failed(kind: 'touch' | 'event' | 'view', items: number, error: unknown): void;
  /** Writes not taken (queue full, closed) or given up; never waited for. */
  dropped(kind: 'touch' | 'event' | 'view', reason: RefusalReason | 'lost', n: number): void;
}

export interface PipelineDeps {
  store: Store;
  context: () => Omit<BatchContext, 'nowMs'>;
  nowMs: () => number;
  /** How often queued pixel touches commit (events do not wait for a timer). */
  flushIntervalMs: number;
  /**
   * Event batches committing at once (default 1: one after another). Above 1, a batch holds
   * whole requests only, so that a request's events are still applied in order in one
   * transaction; the store must let concurrent transactions dedup against each other.
   */
  eventBatchesInFlight?: number;
  observer?: PipelineObserver;
}

/** The batch cut at the end of each request (the last part may continue in the next batch). */
function splitRequests(batch: PendingEvent[]): PendingEvent[][] {
  const requests: PendingEvent[][] = [];
  let current: PendingEvent[] = [];
  for (const p of batch) {
    current.push(p);
    if (p.last) {
      requests.push(current);
      current = [];
    }
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * Group commit for the hot path (DESIGN §8). Touches and events have queues of their own:
 * pixel touches commit every `flushIntervalMs` whatever the events cost, so a SIGKILL loses
 * only the hits of the last interval and the commit under way; events commit in batches as
 * soon as no batch is in flight (nextEventBatch), each after the touches queued before it
 * (conversions must see earlier impressions). The
 * pixel answers before its write and never waits: beyond MAX_PENDING_TOUCHES a hit is
 * dropped and counted. The server API awaits its commit and is refused at once beyond
 * MAX_PENDING_EVENTS, or when the commit fails.
 */
export class IngestPipeline {
  private touches: Touch[] = [];
  private events: PendingEvent[] = [];
  private touchTimer: NodeJS.Timeout | null = null;
  /** The next event batch, due once the event loop has read what is waiting. */
  private eventTurn: NodeJS.Immediate | null = null;
  private touchFlush: Promise<boolean> | null = null;
  private readonly eventFlushes = new Set<Promise<void>>();
  private readonly maxEventFlushes: number;
  private closed = false;
  private lastCommitFailed = false;
  private readonly views: ViewQueue;
  /** What intakes hold back until the end of a turn, recorded before touches are taken. */
  private readonly heldBack: Array<() => void> = [];

  constructor(private readonly deps: PipelineDeps) {
    this.maxEventFlushes = Math.max(1, deps.eventBatchesInFlight ?? 1);
    this.views = new ViewQueue(deps.store, deps.observer);
  }

  /** True while the latest commit failed (for `/readyz`): the store cannot take writes. */
  get failing(): boolean {
    return this.lastCommitFailed;
  }

  /** Items waiting for a commit. */
  get pending(): number {
    return this.touches.length + this.events.length + this.views.pending;
  }

  /**
   * Registers `record`, which records the touches an intake holds back for the rest of a turn
   * of the event loop (the pixel fast path answers a turn's hits together): it runs before a
   * commit takes the queued touches, so an event committed after a hit was read still sees
   * the hit's touch, whatever starts the commit (a full batch, a flush, a timer).
   */
  recordHeldBack(record: () => void): void {
    this.heldBack.push(record);
  }

  /** Queues a pixel touch; false when it was dropped (queue full or closed). */
  recordTouch(touch: Touch): boolean {
    if (this.closed || this.touches.length >= MAX_PENDING_TOUCHES) {
      this.deps.observer?.dropped('touch', this.closed ? 'closed' : 'queue_full', 1);
      return false;
    }
    this.touches.push(touch);
    this.touchTimer ??= setTimeout(() => void this.flushTouches(), this.deps.flushIntervalMs);
    return true;
  }

  /** Queues a viewability signal (issue 24), committed right after the touches queued with it. */
  recordView(view: ImpressionView): boolean {
    if (this.closed) this.deps.observer?.dropped('view', 'closed', 1);
    if (this.closed || !this.views.add(view)) return false;
    this.touchTimer ??= setTimeout(() => void this.flushTouches(), this.deps.flushIntervalMs);
    return true;
  }

  /**
   * Queues events; resolves with each one's outcome once committed. Rejects with
   * IngestRefused, taking none of them, when the queue is full or closed, or when the
   * commit fails.
   */
  recordEvents(events: readonly TrackedEvent[]): Promise<EventOutcome[]> {
    if (events.length === 0) return Promise.resolve([]);
    const reason: RefusalReason | null = this.closed
      ? 'closed'
      : this.events.length + events.length > MAX_PENDING_EVENTS
        ? 'queue_full'
        : null;
    if (reason) {
      this.deps.observer?.dropped('event', reason, events.length);
      return Promise.reject(new IngestRefused(reason));
    }
    const all = new Promise<EventOutcome[]>((resolve, reject) => {
      const n = events.length;
      const request: PendingRequest = {
        outcomes: new Array<EventOutcome>(n),
        left: n,
        settled: false,
        resolve,
        reject,
      };
      for (let i = 0; i < n; i++)
        this.events.push({
          event: events[i] as TrackedEvent,
          last: i === n - 1,
          request,
          index: i,
        });
    });
    if (this.events.length >= MAX_EVENT_BATCH) void this.flushEvents();
    else if (this.eventFlushes.size < this.maxEventFlushes) this.nextEventBatch();
    // Otherwise the batch in flight starts the next one when it ends.
    return all;
  }

  /**
   * Commits what is queued (touches, then a batch of events) and waits for every event batch
   * in flight: an erasure or export that flushes first must not run beside an open one.
   */
  async flush(): Promise<void> {
    await this.flushTouches();
    await this.flushEvents();
    await Promise.all([...this.eventFlushes]);
  }

  /**
   * Commits the touches queued so far, one batch at a time; true when all of them were
   * committed. A failed batch goes back to the front of the queue for a retry.
   */
  private async flushTouches(): Promise<boolean> {
    for (const record of this.heldBack) record();
    if (this.touchTimer) {
      clearTimeout(this.touchTimer);
      this.touchTimer = null;
    }
    while (this.touchFlush) await this.touchFlush;
    let target = this.touches.length;
    let ok = true;
    while (target > 0 && ok) {
      const batch = this.touches.splice(0, Math.min(target, MAX_BATCH_ITEMS));
      target -= batch.length;
      this.touchFlush = this.writeTouches(batch);
      ok = await this.touchFlush;
      this.touchFlush = null;
    }
    if (ok) ok = await this.views.flush();
    if (!ok) this.lastCommitFailed = true;
    if (this.touches.length + this.views.pending > 0 && !this.touchTimer && !this.closed) {
      this.touchTimer = setTimeout(
        () => void this.flushTouches(),
        ok ? this.deps.flushIntervalMs : TOUCH_RETRY_MS,
      );
    }
    return ok;
  }

  private async writeTouches(batch: Touch[]): Promise<boolean> {
    const started = Date.now();
    try {
      // IPs are written as the environment's ip_storage says (issue 6), on every attempt.
      const { environment } = this.deps.context();
      const touches = batch.map((t) => protectTouch(t, environment(t.env_id)));
      await this.deps.store.insertTouches(touches);
      this.lastCommitFailed = false;
      this.deps.observer?.touchesCommitted(touches, Date.now() - started);
      return true;
    } catch (e) {
      this.lastCommitFailed = true;
      this.deps.observer?.failed('touch', batch.length, e);
      // Kept for a retry, ahead of newer hits; what no longer fits is dropped and counted.
      const room = Math.max(0, MAX_PENDING_TOUCHES - this.touches.length);
      if (room < batch.length) this.deps.observer?.dropped('touch', 'lost', batch.length - room);
      this.touches.unshift(...batch.slice(0, room));
      return false;
    }
  }

  /**
   * Adaptive group commit: an event batch starts once the event loop has read the requests
   * waiting on its sockets (setImmediate runs after the poll phase), with no timed wait. When
   * none is in flight that is at once; the requests that arrive while one commits wait for
   * it and then go together. An idle server answers one event in about its own processing
   * time, a busy one commits as large batches as a timed window did (on SQLite the batch
   * runs on the event loop, so everything read during it joins the next).
   */
  private nextEventBatch(): void {
    if (this.events.length === 0 || this.eventTurn) return;
    this.eventTurn = setImmediate(() => void this.flushEvents());
  }

  private async flushEvents(): Promise<void> {
    if (this.eventTurn) {
      clearImmediate(this.eventTurn);
      this.eventTurn = null;
    }
    while (this.eventFlushes.size >= this.maxEventFlushes) await Promise.race(this.eventFlushes);
    if (this.events.length === 0) return;
    const flush: Promise<void> = this.writeEvents(this.takeEventBatch()).finally(() => {
      this.eventFlushes.delete(flush);
    });
    this.eventFlushes.add(flush);
    // Batches side by side (PostgreSQL): the next one may start while this one commits.
    if (this.eventFlushes.size < this.maxEventFlushes) this.nextEventBatch();
    await flush;
    this.nextEventBatch();
  }

  /** The next batch: whole requests when batches commit side by side. */
  private takeEventBatch(): PendingEvent[] {
    if (this.maxEventFlushes === 1) return this.events.splice(0, MAX_EVENT_BATCH);
    let n = 0;
    while (n < this.events.length) {
      let end = n;
      while (end < this.events.length - 1 && !this.events[end]?.last) end++;
      // A request larger than a batch is a batch of its own.
      if (n > 0 && end + 1 > MAX_EVENT_BATCH) break;
      n = end + 1;
    }
    return this.events.splice(0, n);
  }

  /**
   * Commits a batch. When it fails on what one request sent rather than on the store (an
   * error of our own code on some input), each request of the batch is tried alone, so
   * that one such request fails by itself instead of every request committed with it.
   */
  private async writeEvents(batch: PendingEvent[]): Promise<void> {
    const error = await this.commitEvents(batch);
    if (error === null) return;
    const requests = splitRequests(batch);
    if (!isInputError(error) || requests.length < 2) {
      this.reject(batch, error);
      return;
    }
    for (const request of requests) {
      const alone = await this.commitEvents(request);
      if (alone !== null) this.reject(request, alone);
    }
  }

  private reject(batch: PendingEvent[], error: unknown): void {
    // The store itself failing makes `/readyz` say so; one request's bad input does not.
    if (!isInputError(error)) this.lastCommitFailed = true;
    this.deps.observer?.failed('event', batch.length, error);
    const refused = new IngestRefused('store_unavailable', error);
    for (const p of batch) fail(p, refused);
  }

  /** Commits the batch and answers its events; the error when the commit failed. */
  private async commitEvents(batch: PendingEvent[]): Promise<unknown> {
    try {
      // The touches queued before these events first, so that attribution sees them. Without
      // them a conversion would be credited to nothing and never looked at again: refused
      // (503, retried by the sender) until they are committed.
      if (!(await this.flushTouches()))
        throw new Error('the pixel touches queued before these events could not be committed');
      const events = batch.map((p) => p.event);
      let sliceStart = performance.now();
      const between = () => {
        if (performance.now() - sliceStart < EVENT_SLICE_MS) return undefined;
        // A macrotask: pending I/O (pixel requests) runs before the batch goes on, inside
        // its transaction; other users of the store wait for the connection meanwhile.
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            sliceStart = performance.now();
            resolve();
          }),
        );
      };
      const ctx = { ...this.deps.context(), nowMs: this.deps.nowMs(), between };
      const outcomes = await this.deps.store.ingest((tx) => processBatch(tx, events, ctx));
      this.lastCommitFailed = false;
      for (let i = 0; i < batch.length; i++)
        answer(batch[i] as PendingEvent, outcomes[i] as EventOutcome);
      this.deps.observer?.eventsCommitted(events, outcomes);
      return null;
    } catch (e) {
      return e;
    }
  }

  /**
   * Graceful stop: refuses new writes and commits what is queued, retrying a failing store
   * for up to CLOSE_RETRY_MS; what still cannot be committed is counted as lost.
   */
  async close(): Promise<void> {
    this.closed = true;
    const giveUpAt = Date.now() + CLOSE_RETRY_MS;
    while (this.events.length > 0 || this.eventFlushes.size > 0) {
      if (this.events.length > 0) await this.flushEvents();
      else await Promise.race(this.eventFlushes);
    }
    while (this.touches.length + this.views.pending > 0 && !(await this.flushTouches())) {
      if (Date.now() > giveUpAt) {
        this.deps.observer?.dropped('touch', 'lost', this.touches.length);
        this.touches = [];
        this.views.abandon();
        break;
      }
      await new Promise((r) => setTimeout(r, TOUCH_RETRY_MS));
    }
    if (this.touchTimer) clearTimeout(this.touchTimer);
  }
}

/**
 * Applies a batch of events in arrival order inside one transaction, so copies of one event
 * within the batch dedup against each other and later events see the identity links of
 * earlier ones. Touches are committed before, on their own path.
 */
export async function processBatch(
  tx: IngestTx,
  events: readonly TrackedEvent[],
  ctx: BatchContext,
): Promise<EventOutcome[]> {
  for (const e of events) ctx.copies?.note(e.env_id, e.event_name, e.source, ctx.nowMs);
  if (tx.setWise) return processBatchSetWise(tx, tx.setWise, events, ctx);
  const outcomes: EventOutcome[] = [];
  for (const e of events) {
    if (outcomes.length > 0) await ctx.between?.();
    outcomes.push(await processEvent(tx, arrive(e, ctx), ctx));
  }
  return outcomes;
}
