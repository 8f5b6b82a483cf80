import { type ConversionIdentity, type MatchKey, matchKeyFor } from './attribution.js';
import { cameAfter } from './clock-skew.js';
import type { Touch, TouchKind } from './event.js';
import type { TrafficSource } from './traffic-source.js';

/**
 * Copies of one visit (same person, same source) closer than this to the one before are the
 * same visit, as a GA4 session ends after 30 minutes without a hit (its default timeout).
 */
export const VISIT_SESSION_S = 30 * 60;

/** One touch of a conversion path, with the key that tied it to the converting person. */
export interface MatchedTouch {
  kind: TouchKind;
  touch_id: string;
  dest_id: string | null;
  campaign_id: string | null;
  /** Unix seconds. */
  time: number;
  match_key: MatchKey;
  /** A visit's source, or what a click's landing URL said (issue 23). */
  traffic_source?: TrafficSource;
}

/**
 * Drops the repeats of a visit from touches sorted by time: a landing page's PageView and
 * AddToCart, a reload, the server's copy of the browser's event all carry the same visit id.
 * A repeat within VISIT_SESSION_S of the previous copy continues that visit.
 */
export function collapseVisits<T extends { kind: TouchKind; touch_id: string; time: number }>(
  sorted: readonly T[],
): T[] {
  const lastSeen = new Map<string, number>();
  return sorted.filter((t) => {
    if (t.kind !== 'visit') return true;
    const last = lastSeen.get(t.touch_id);
    lastSeen.set(t.touch_id, t.time);
    return last === undefined || t.time - last >= VISIT_SESSION_S;
  });
}

/**
 * Every touch of the converting person inside the lookback, of any destination, oldest
 * first, visits included (once each, collapseVisits): what multi-touch models credit. Unlike last-touch delivery, no destination's
 * window or ownership filters it; the report's models decide the credit.
 */
export function conversionPathTouches(
  who: ConversionIdentity,
  touches: readonly Touch[],
  lookback_s: number,
): MatchedTouch[] {
  const out: MatchedTouch[] = [];
  for (const t of touches) {
    const gap = who.time - t.time;
    if (cameAfter(t.time, who.time) || gap >= lookback_s) continue;
    const key = matchKeyFor(t, who);
    if (!key) continue;
    out.push({
      kind: t.kind,
      touch_id: t.touch_id,
      dest_id: t.dest_id,
      campaign_id: t.campaign_id,
      time: t.time,
      match_key: key,
      ...(t.traffic_source ? { traffic_source: t.traffic_source } : {}),
    });
  }
  return collapseVisits(
    out.sort((a, b) => a.time - b.time || a.touch_id.localeCompare(b.touch_id)),
  );
}
