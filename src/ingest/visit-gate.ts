import { VISIT_SESSION_S } from '../domain/conversion-path.js';
import type { Touch } from '../domain/event.js';
import { namesCampaign } from '../domain/traffic-source.js';

/** Visits remembered at most (about 100 bytes each): the newest are kept. */
export const MAX_REMEMBERED_VISITS = 50_000;

/**
 * Lets the first copy of a visit through and holds back its repeats: the PageView, AddToCart
 * and every later event of a landing page carry the same visit id. Paths collapse them anyway
 * (collapseVisits); writing them all would only grow the touches table, and crowd an office
 * IP's touch lookups (the newest 200 per key) with repeats. A repeat within VISIT_SESSION_S of
 * the last copy seen continues the visit; after a pause as long, the visit is new and written
 * again. Per process and bounded: past MAX_REMEMBERED_VISITS the oldest are forgotten, so at
 * worst a repeat is written, never a visit lost.
 *
 * A sender that does not mark landings (Segment's analytics.js, a server) sends a single-page
 * app's every page view with the landing's `document.referrer`, and its URL without the
 * landing's UTM query or click id: another source, so another visit id. Such a page view,
 * named by its referrer alone (no UTM field, no ad click id), continues the person's visit from
 * the same referrer host seen within VISIT_SESSION_S, whatever that visit's campaign; as GA4
 * keeps a session's source.
 */
export class VisitGate {
  /** Visit ids, and (person, referrer host) pairs: each → the time it was last seen. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = MAX_REMEMBERED_VISITS) {}

  /**
   * True when the visit should be written; `unmarked`: its event did not say whether it was
   * a landing (taken for one by visit-touch.ts isLanding).
   */
  admit(t: Touch, unmarked = false): boolean {
    const fresh = this.sight(`${t.env_id}\u0000${t.touch_id}`, t.time);
    const host = t.traffic_source?.referrer_host;
    if (!host || !t.traffic_source) return fresh;
    const person = t.anonymous_id ?? t.user_id ?? t.ip ?? '';
    const fromHost = this.sight(`${t.env_id}\u0000${person}\u0000${host}`, t.time);
    // A landing naming a campaign (UTM fields, an ad click id) is never a continuation.
    const repeatsReferrer = unmarked && !namesCampaign(t.traffic_source) && !fromHost;
    return fresh && !repeatsReferrer;
  }

  /** Records a sighting of `key` at `time`; true unless seen within VISIT_SESSION_S. */
  private sight(key: string, time: number): boolean {
    const last = this.seen.get(key);
    // Moved to the end: the map's order is the order of last sight.
    this.seen.delete(key);
    this.seen.set(key, last !== undefined && time < last ? last : time);
    if (this.seen.size > this.max) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return last === undefined || Math.abs(time - last) >= VISIT_SESSION_S;
  }
}
