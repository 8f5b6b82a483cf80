import type { DestinationConfig } from '../domain/config-types.js';

/**
 * When a destination's delivery of a conversion falls due (DESIGN §7, docs/delivery.md): its
 * merge window after the event's first copy, so copies arriving meanwhile are merged into what
 * is sent (built from the stored event at send time), and never before the batch wait from
 * now. The due time lives on the outbox row, so the wait survives a restart.
 */
export function deliveryDueMs(
  dest: Pick<DestinationConfig, 'merge_window_ms' | 'merge_window_auto' | 'batch'>,
  firstSeenMs: number,
  nowMs: number,
  otherCopyExpected = true,
): number {
  // `auto` waits only for a copy that may come: the other side sends this event name too.
  const window = dest.merge_window_auto && !otherCopyExpected ? 0 : (dest.merge_window_ms ?? 0);
  return Math.max(firstSeenMs + window, nowMs + dest.batch.max_wait_ms);
}
