import {
  type AttributionRules,
  type Candidate,
  type ConversionIdentity,
  compareCandidates,
  keyMatcher,
  type MatchKey,
  matchClassOf,
  matchTypeOf,
  type TouchExclusion,
  unviewedReason,
  windowMs,
} from './attribution.js';
import { cameAfter } from './clock-skew.js';
import type { Touch, TouchKind } from './event.js';
import type { TrafficSource } from './traffic-source.js';

/**
 * Copies of one visit (same person, same source) closer than this to the one before are the
 * same visit, as a GA4 session ends after 30 minutes without a hit (its default timeout).
 */
export const VISIT_SESSION_S = 30 * 60;

/**
 * The most touches matched only by address (`ip+ua`, `ip`) a path keeps: the newest. More
 * than this inside the probabilistic window is an address many people share (a carrier's NAT,
 * an office): a multi-touch model spreading credit over hundreds of strangers' touches is
 * noise, and the path row (tens of KB of JSON, written per conversion) was the cost (issue 22).
 */
export const MAX_PROBABILISTIC_PATH_TOUCHES = 20;

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
  return sorted.filter(visitStarts());
}

/**
 * collapseVisits one touch at a time, for touches read in pages: answers whether each touch,
 * given in time order, is kept (not the repeat of a visit).
 */
export function visitStarts(): (t: { kind: TouchKind; touch_id: string; time: number }) => boolean {
  // Only copies less than VISIT_SESSION_S old matter, so the visits are kept in two maps of
  // one session each, the older dropped when a touch comes a session after the newer began:
  // a month of a store's visits in one map (100,000 on the demo store) made every lookup
  // slower and the report's garbage collection longer.
  let since = Number.NEGATIVE_INFINITY;
  let recent = new Map<string, number>();
  let older = new Map<string, number>();
  return (t) => {
    if (t.kind !== 'visit') return true;
    if (t.time - since >= VISIT_SESSION_S) {
      // What `older` held came before `since`, a session or more before this touch.
      older = recent;
      recent = new Map();
      since = t.time;
    }
    const last = recent.get(t.touch_id) ?? older.get(t.touch_id);
    recent.set(t.touch_id, t.time);
    return last === undefined || t.time - last >= VISIT_SESSION_S;
  };
}

/** What bounds a conversion path besides the touch being the person's (DESIGN §6). */
export interface PathRules {
  /** How far back the path reaches, seconds (the widest window of the event's destinations). */
  lookback_s: number;
  /** How far back an `ip+ua` or `ip` click or visit reaches, seconds. */
  probabilistic_click_window_s: number;
  /** How far back an `ip+ua` or `ip` impression reaches, seconds. */
  probabilistic_view_window_s: number;
  /** The event's eligibility rule for its matches: iOS app events' IP matches (issue 25). */
  exclude?: TouchExclusion;
  /**
   * The rules of each destination the event goes to (pathRules), `exclude` included: the path
   * keeps the touch each credits, whatever else it leaves out.
   */
  credit?: readonly AttributionRules[];
}

interface Keyed {
  touch: Touch;
  key: MatchKey;
  gap_s: number;
}

/** True when a probabilistic match may join the path: inside its window, of its kind. */
function inProbabilisticWindow({ touch, gap_s }: Keyed, rules: PathRules): boolean {
  // A visit is a landing the person made, as a click is: it takes the click window.
  const window_s =
    touch.kind === 'impression'
      ? rules.probabilistic_view_window_s
      : rules.probabilistic_click_window_s;
  return gap_s <= window_s;
}

/**
 * True when the path of a conversion from `touches` is the person's own touches alone: one
 * of them, at least, is matched deterministically (conversionPathTouches leaves every
 * IP-matched touch off it then).
 */
export function pathHasOwnTouches(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: PathRules,
): boolean {
  return keyedTouches(who, touches, rules).some(isOwn);
}

const isOwn = (k: Keyed) => matchTypeOf(k.key) === 'deterministic';

/** The touches that may join the path, with their key: inside the lookback, not barred. */
function keyedTouches(who: ConversionIdentity, touches: readonly Touch[], rules: PathRules) {
  const keyOf = keyMatcher(who);
  const keyed: Keyed[] = [];
  for (const touch of touches) {
    const gap_s = who.time - touch.time;
    if (cameAfter(touch.time, who.time) || gap_s >= rules.lookback_s) continue;
    const key = keyOf(touch);
    if (key && !rules.exclude?.(touch, key, gap_s)) keyed.push({ touch, key, gap_s });
  }
  return keyed;
}

/**
 * Every touch of the converting person inside the lookback, of any destination, oldest
 * first, visits included (once each, collapseVisits): what multi-touch models credit. Unlike
 * last-touch delivery, no destination's window or ownership filters it; the report's models
 * decide the credit. DESIGN §6 still holds: a shared office or carrier IP never moves credit
 * from the person's own touches, so when any touch is matched deterministically, IP-matched
 * ones (`ip+ua`, `ip`) are left out; else they count only inside the probabilistic windows,
 * and never when the event's rule bars them (an iOS app event, issue 25). Of those, see
 * probabilisticPath: the strongest key among the ad touches, the newest
 * MAX_PROBABILISTIC_PATH_TOUCHES, and every touch last-touch delivery could credit.
 */
export function conversionPathTouches(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: PathRules,
): MatchedTouch[] {
  const keyed = keyedTouches(who, touches, rules);
  if (keyed.some(isOwn)) return pathOf(keyed.filter(isOwn));
  return probabilisticPath(
    keyed.filter((k) => inProbabilisticWindow(k, rules)),
    rules,
  );
}

/** Touches sorted oldest first, a visit's repeats dropped. */
function pathOf(kept: readonly Keyed[]): MatchedTouch[] {
  return collapseVisits(
    kept.map(matchedTouch).sort((a, b) => a.time - b.time || a.touch_id.localeCompare(b.touch_id)),
  );
}

/**
 * The path of touches an address alone matches. The strongest key among the ad touches
 * counts (the same device's `ip+ua` over the bare address, as §6 orders the evidence), and
 * visits follow it: with an `ip+ua` ad touch, only `ip+ua` visits; with `ip` ad touches only,
 * visits of either key; with no ad touch, the strongest key among the visits. Visits earn no
 * destination's credit, so they never decide which ad touches stay. Of those, the newest
 * MAX_PROBABILISTIC_PATH_TOUCHES (a busy address, issue 22); and, whatever the key or the
 * cap, the touch last-touch delivery credits each destination (creditedTouches): an `ip` click
 * older than 20 newer impressions still wins class 5, and another destination's `ip+ua` touch
 * takes nothing from this one's `ip` touches (DESIGN §6).
 */
function probabilisticPath(probabilistic: readonly Keyed[], rules: PathRules): MatchedTouch[] {
  const ads = probabilistic.filter((k) => k.touch.kind !== 'visit');
  const strongest = (ks: readonly Keyed[]) => (ks.some(isDevice) ? 'ip+ua' : 'ip');
  const adKey = ads.length > 0 ? strongest(ads) : null;
  const visitKey = adKey ?? strongest(probabilistic);
  const kept = probabilistic.filter((k) =>
    k.touch.kind === 'visit' ? visitKey === 'ip' || isDevice(k) : k.key === adKey,
  );
  const newest = pathOf(kept).slice(-MAX_PROBABILISTIC_PATH_TOUCHES);
  const onPath = new Set(newest.map((t) => t.touch_id));
  const credited = creditedTouches(ads, rules).filter((k) => !onPath.has(k.touch.touch_id));
  if (credited.length === 0) return newest;
  return pathOf(credited)
    .concat(newest)
    .sort((a, b) => a.time - b.time || a.touch_id.localeCompare(b.touch_id));
}

const isDevice = (k: Keyed) => k.key === 'ip+ua';

/**
 * The touches last-touch delivery credits, one per destination (`rules.credit`; without them,
 * one per destination the touches name, under the path's windows): attribute()'s choice among
 * the touches already on their way to the path. (Only an install's fraud verdicts, which the
 * path does not know, could make delivery's winner another touch.)
 */
function creditedTouches(ads: readonly Keyed[], rules: PathRules): Keyed[] {
  const credited = new Set<Keyed>();
  for (const dest of rules.credit ?? destinationsNamed(ads, rules)) {
    // attribute()'s choice in one pass: candidatesFor would find each key again and sort.
    let best: { k: Keyed; c: Candidate } | undefined;
    for (const k of ads) {
      const { touch, key, gap_s } = k;
      if (touch.dest_id !== null && touch.dest_id !== dest.dest_id) continue;
      const match_class = matchClassOf(touch.kind, key);
      // A weaker class never wins: a busy address's ~140 `ip` touches behind an `ip+ua` one
      // cost no window, rule or candidate (the path's rules bar nothing as a side effect).
      if (best && match_class > best.c.match_class) continue;
      if (gap_s * 1000 > windowMs(touch.kind, key, dest)) continue;
      if (unviewedReason(touch, dest) ?? dest.exclude?.(touch, key, gap_s)) continue;
      const c: Candidate = {
        touch,
        key,
        match_class,
        gap_s,
        in_window: true,
        excluded: null,
      };
      if (!best || compareCandidates(c, best.c) < 0) best = { k, c };
    }
    if (best) credited.add(best.k);
  }
  return [...credited];
}

/** One destination per `dest_id` the touches name (one for those naming none, if only those). */
function destinationsNamed(ads: readonly Keyed[], rules: PathRules): AttributionRules[] {
  const ids = new Set(ads.map((k) => k.touch.dest_id ?? ''));
  if (ids.size > 1) ids.delete('');
  return [...ids].map((dest_id) => ({
    dest_id,
    click_window_ms: rules.lookback_s * 1000,
    view_window_ms: rules.lookback_s * 1000,
    probabilistic_click_window_ms: rules.probabilistic_click_window_s * 1000,
    probabilistic_view_window_ms: rules.probabilistic_view_window_s * 1000,
    ...(rules.exclude ? { exclude: rules.exclude } : {}),
  }));
}

function matchedTouch({ touch: t, key }: Keyed): MatchedTouch {
  return {
    kind: t.kind,
    touch_id: t.touch_id,
    dest_id: t.dest_id,
    campaign_id: t.campaign_id,
    time: t.time,
    match_key: key,
    ...(t.traffic_source ? { traffic_source: t.traffic_source } : {}),
  };
}
