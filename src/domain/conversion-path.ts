import { type ConversionIdentity, type MatchKey, matchKeyFor } from './attribution.js';
import { cameAfter } from './clock-skew.js';
import type { Touch, TouchKind } from './event.js';

/** One touch of a conversion path, with the key that tied it to the converting person. */
export interface MatchedTouch {
  kind: TouchKind;
  touch_id: string;
  dest_id: string | null;
  campaign_id: string | null;
  /** Unix seconds. */
  time: number;
  match_key: MatchKey;
}

/**
 * Every touch of the converting person inside the lookback, of any destination, oldest
 * first: what multi-touch models credit. Unlike last-touch delivery, no destination's
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
    });
  }
  return out.sort((a, b) => a.time - b.time || a.touch_id.localeCompare(b.touch_id));
}
