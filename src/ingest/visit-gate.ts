import { VISIT_SESSION_S } from '../domain/conversion-path.js';
import type { Touch } from '../domain/event.js';

/** Visits remembered at most (about 100 bytes each): the newest are kept. */
export const MAX_REMEMBERED_VISITS = 50_000;

/**
 * Lets the first copy of a visit through and holds back its repeats: the PageView, AddToCart
 * and every later event of a landing page (or of a single-page app, whose referrer stays the
 * landing's) carry the same visit id. Paths collapse them anyway (collapseVisits); writing
 * them all would only grow the touches table, and crowd an office IP's touch lookups (the
 * newest 200 per key) with repeats. A repeat within VISIT_SESSION_S of the last copy seen
 * continues the visit; after a pause as long, the visit is new and written again. Per
 * process and bounded: past MAX_REMEMBERED_VISITS the oldest are forgotten, so at worst a
 * repeat is written, never a visit lost.
 */
export class VisitGate {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = MAX_REMEMBERED_VISITS) {}

  /** True when the visit should be written. */
  admit(t: Touch): boolean {
    const key = `${t.env_id}\u0000${t.touch_id}`;
    const last = this.seen.get(key);
    // Moved to the end: the map's order is the order of last sight.
    this.seen.delete(key);
    this.seen.set(key, last !== undefined && t.time < last ? last : t.time);
    if (this.seen.size > this.max) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return last === undefined || Math.abs(t.time - last) >= VISIT_SESSION_S;
  }
}
