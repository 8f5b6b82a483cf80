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
 * keeps a session's source. Only a person known by a cookie or user id, never by IP alone.
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
    const person = t.anonymous_id ?? t.user_id;
    // Known by its IP alone (no cookie, no user id), a visit id stands for everyone behind
    // that address: the repeat held back is one of the same id, IP and user agent, a row the
    // same as the one written but for its time. Another browser there is another person,
    // whose visit is written, so its ip+ua lookup finds their own visit, not a colleague's.
    const device = !person ? `\u0000${t.user_agent ?? ''}` : '';
    const fresh = this.sight(`${t.env_id}\u0000${t.touch_id}${device}`, t.time);
    const ts = t.traffic_source;
    // Only a person's own id continues their visit: by IP, one person's landing would swallow
    // a colleague's visit from the same referrer for half an hour (a shared IP never moves
    // credit between people, attribution.md). A campaign landing is never a continuation.
    if (!ts?.referrer_host || !person) return fresh;
    const fromHost = this.sight(`${t.env_id}\u0000${person}\u0000${ts.referrer_host}`, t.time);
    const repeatsReferrer = unmarked && !namesCampaign(ts) && !fromHost;
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
