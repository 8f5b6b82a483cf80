import type { DestinationConfig } from '../config/config-types.js';

/**
 * When a destination's delivery of a conversion falls due (DESIGN §7, docs/delivery.md): its
 * merge window after the event's first copy, so copies arriving meanwhile are merged into what
 * is sent (built from the stored event at send time), and never before the batch wait from
 * now. The due time lives on the outbox row, so the wait survives a restart.
 */
export function deliveryDueMs(
  dest: Pick<DestinationConfig, 'merge_window_ms' | 'batch'>,
  firstSeenMs: number,
  nowMs: number,
): number {
  return Math.max(firstSeenMs + (dest.merge_window_ms ?? 0), nowMs + dest.batch.max_wait_ms);
}
