import type { Touch, TrackedEvent } from '../domain/event.js';
import { eventDiagnostics } from '../domain/event-diagnostics.js';
import type { ImpressionView } from '../domain/viewability.js';
import type { EventOutcome, IngestItem } from './ingest-pipeline.js';

/** One committed write, as the live debugger shows it. */
export type LiveItem =
  | { type: 'touch'; at_ms: number; touch: Touch }
  /** A viewability signal merged into its impression's row (issue 24). */
  | { type: 'view'; at_ms: number; view: ImpressionView }
  | {
      type: 'event';
      at_ms: number;
      /** The stored event: a new one, or the first copy when this one was a duplicate. */
      pk: string;
      duplicate: boolean;
      conversions: number;
      event: TrackedEvent;
      diagnostics: string[];
    };

/** What a debugger view asks to see; every field narrows. */
export interface LiveFilter {
  env_id?: string;
  source?: string;
  event_name?: string;
  test_code?: string;
}

/**
 * Whether an item passes a filter. Touches come from pixels and are named after their kind;
 * viewability signals from pixels too, named `view`.
 */
export function matchesLive(item: LiveItem, f: LiveFilter): boolean {
  if (item.type === 'view')
    return (
      (!f.env_id || f.env_id === item.view.env_id) &&
      (!f.source || f.source === 'pixel') &&
      (!f.event_name || f.event_name === 'view') &&
      !f.test_code
    );
  const env = item.type === 'touch' ? item.touch.env_id : item.event.env_id;
  const source = item.type === 'touch' ? 'pixel' : item.event.source;
  const name = item.type === 'touch' ? item.touch.kind : item.event.event_name;
  const code = item.type === 'touch' ? undefined : item.event.test_code;
  return (
    (!f.env_id || f.env_id === env) &&
    (!f.source || f.source === source) &&
    (!f.event_name || f.event_name === name) &&
    (!f.test_code || f.test_code === code)
  );
}

/**
 * In-process fan-out of committed writes to live debugger streams. It holds nothing: with
 * no listener, publishing costs one length check, so the hot path pays nothing.
 */
export class LiveBus {
  private readonly listeners = new Set<(item: LiveItem) => void>();

  subscribe(fn: (item: LiveItem) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get listening(): number {
    return this.listeners.size;
  }

  /** Publishes committed pixel touches (nothing is made for them when nobody listens). */
  publishTouches(touches: readonly Touch[], at_ms: number): void {
    if (this.listeners.size === 0) return;
    for (const touch of touches) this.emit({ type: 'touch', at_ms, touch });
  }

  /** Publishes committed viewability signals (nothing is made for them when nobody listens). */
  publishViews(views: readonly ImpressionView[], at_ms: number): void {
    if (this.listeners.size === 0) return;
    for (const view of views) this.emit({ type: 'view', at_ms, view });
  }

  /** Publishes a committed batch: its items lined up with their outcomes. */
  publishBatch(
    items: readonly IngestItem[],
    outcomes: ReadonlyArray<EventOutcome | null>,
    at_ms: number,
  ): void {
    if (this.listeners.size === 0) return;
    items.forEach((it, i) => {
      const o = outcomes[i];
      if (it.kind === 'touch') this.emit({ type: 'touch', at_ms, touch: it.touch });
      else if (o)
        this.emit({
          type: 'event',
          at_ms,
          pk: o.status === 'accepted' ? o.pk : o.of,
          duplicate: o.status === 'duplicate',
          conversions: o.status === 'accepted' ? o.conversions : 0,
          event: it.event,
          diagnostics: eventDiagnostics(it.event, at_ms),
        });
    });
  }

  private emit(item: LiveItem): void {
    for (const fn of this.listeners) fn(item);
  }
}
