import type { ImpressionView } from '../domain/viewability.js';
import type { Store } from '../store/store.js';

/** Viewability signals held in memory waiting for their commit, as pixel touches are. */
export const MAX_PENDING_VIEWS = 20_000;

/** What the queue reports of its commits (the pipeline's observer). */
export interface ViewQueueObserver {
  /** Signals committed (for the live debugger). */
  viewsCommitted?(views: readonly ImpressionView[]): void;
  failed(kind: 'view', items: number, error: unknown): void;
  dropped(kind: 'view', reason: 'queue_full' | 'lost', n: number): void;
}

/**
 * The viewability signals of `/v` (issue 24), committed with the pixel touches: the pipeline
 * flushes them right after each round of touches, so an event batch (which flushes touches
 * first) sees both. One upsert per flush; the store merges a signal with its impression's row
 * whichever came first, so nothing here waits for the touch.
 */
export class ViewQueue {
  private views: ImpressionView[] = [];
  private inFlight: Promise<boolean> | null = null;

  constructor(
    private readonly store: Pick<Store, 'upsertImpressionViews'>,
    private readonly observer?: ViewQueueObserver,
  ) {}

  get pending(): number {
    return this.views.length;
  }

  /** Queues a signal; false when the queue is full (it is counted as dropped). */
  add(view: ImpressionView): boolean {
    if (this.views.length >= MAX_PENDING_VIEWS) {
      this.observer?.dropped('view', 'queue_full', 1);
      return false;
    }
    this.views.push(view);
    return true;
  }

  /**
   * Commits what is queued; false when the commit failed (kept for a retry, ahead of newer).
   * Resolves once everything queued before the call is committed, a flush under way included:
   * an event batch that follows sees them.
   */
  async flush(): Promise<boolean> {
    while (this.inFlight) await this.inFlight;
    if (this.views.length === 0) return true;
    this.inFlight = this.write(this.views);
    this.views = [];
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private async write(batch: ImpressionView[]): Promise<boolean> {
    try {
      await this.store.upsertImpressionViews(batch);
      this.observer?.viewsCommitted?.(batch);
      return true;
    } catch (e) {
      this.observer?.failed('view', batch.length, e);
      const room = Math.max(0, MAX_PENDING_VIEWS - this.views.length);
      if (room < batch.length) this.observer?.dropped('view', 'lost', batch.length - room);
      this.views = [...batch.slice(0, room), ...this.views];
      return false;
    }
  }

  /** Forgets what is queued, counted as lost (a stop that gave up on the store). */
  abandon(): void {
    if (this.views.length > 0) this.observer?.dropped('view', 'lost', this.views.length);
    this.views = [];
  }
}
