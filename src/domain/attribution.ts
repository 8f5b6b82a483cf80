import { cameAfter } from './clock-skew.js';
import { deviceAnonymousIds } from './device-id.js';
import { formatDurationMs } from './duration.js';
import type { Touch, TouchKind, UserKeys } from './event.js';
import { notViewableReason } from './viewability.js';

/** Name of the identity key that linked a conversion to a touch, strongest first. */
export type MatchKey =
  | 'install_referrer'
  | 'user_id'
  | 'email'
  | 'phone'
  | 'cookie'
  | 'device_id'
  | 'click_id'
  | 'imp_id'
  | 'ip+ua'
  | 'ip';

/** DESIGN §6 precedence: a lower rank is a stronger key. */
export const MATCH_KEY_RANK: Record<MatchKey, number> = {
  // Google Play's install referrer names the very click an install came from (issue 25).
  install_referrer: -1,
  user_id: 0,
  email: 1,
  phone: 2,
  cookie: 3,
  device_id: 3,
  click_id: 4,
  imp_id: 4,
  'ip+ua': 5,
  ip: 6,
};

/**
 * Deterministic keys name one person or device; probabilistic ones (`ip+ua`, `ip`) only
 * make it likely, since an office, a carrier NAT or a household shares an address.
 */
export type MatchType = 'deterministic' | 'probabilistic';

/** The class of a key (DESIGN §6). */
export function matchTypeOf(key: MatchKey): MatchType {
  return key === 'ip+ua' || key === 'ip' ? 'probabilistic' : 'deterministic';
}

/**
 * DESIGN §6's six classes, strongest first: 1 deterministic click, 2 deterministic
 * impression, 3 `ip+ua` click, 4 `ip+ua` impression, 5 `ip` click, 6 `ip` impression.
 * The winner comes from the first class with a touch inside its window.
 */
export type MatchClass = 1 | 2 | 3 | 4 | 5 | 6;

/** The class of a touch of `kind` found by `key`. */
export function matchClassOf(kind: TouchKind, key: MatchKey): MatchClass {
  const view = kind === 'click' ? 0 : 1;
  if (key === 'ip') return (5 + view) as MatchClass;
  if (key === 'ip+ua') return (3 + view) as MatchClass;
  return (1 + view) as MatchClass;
}

/** What a class means, for explanations: `deterministic click`, `ip+ua impression`. */
export function describeClass(c: MatchClass): string {
  const kind = c % 2 === 1 ? 'click' : 'impression';
  const evidence = c <= 2 ? 'deterministic' : c <= 4 ? 'ip+ua' : 'ip';
  return `${evidence} ${kind}`;
}

/** Default window of probabilistic matches, clicks and impressions alike (DESIGN §6). */
export const DEFAULT_PROBABILISTIC_WINDOW_MS = 86_400_000;

/**
 * A rule that keeps a matched touch from earning credit for one conversion: why, or null.
 * Attribution then falls to the next eligible touch, the class order unchanged (issue 25: an
 * iOS app event's IP matches, a click injected seconds before an install, a flooding click).
 */
export type TouchExclusion = (touch: Touch, key: MatchKey, gap_s: number) => string | null;

/** A destination's attribution settings, windows already clamped (see attributionRules). */
export interface AttributionRules {
  dest_id: string;
  click_window_ms: number;
  view_window_ms: number;
  /** Window of `ip+ua` and `ip` clicks; never longer than `click_window_ms`. */
  probabilistic_click_window_ms: number;
  /** Window of `ip+ua` and `ip` impressions; never longer than `view_window_ms`. */
  probabilistic_view_window_ms: number;
  /** The conversion's eligibility filter, when it has one (the caller's: app events). */
  exclude?: TouchExclusion;
  /** Only impressions the viewability tag saw viewable earn view-through credit (issue 24). */
  view_requires_viewable?: boolean;
}

/** The windows a destination is configured with; probabilistic ones default to 1 day. */
export interface DestinationWindows {
  id: string;
  click_window_ms: number;
  view_window_ms: number;
  probabilistic_click_window_ms?: number;
  probabilistic_view_window_ms?: number;
  view_requires_viewable?: boolean;
}

/**
 * A destination's rules: probabilistic windows default to 1 day and are clamped to the
 * destination's own windows, so an IP match never reaches further back than a cookie match.
 */
export function attributionRules(d: DestinationWindows): AttributionRules {
  const click = d.probabilistic_click_window_ms ?? DEFAULT_PROBABILISTIC_WINDOW_MS;
  const view = d.probabilistic_view_window_ms ?? DEFAULT_PROBABILISTIC_WINDOW_MS;
  const rules: AttributionRules = {
    dest_id: d.id,
    click_window_ms: d.click_window_ms,
    view_window_ms: d.view_window_ms,
    probabilistic_click_window_ms: Math.min(click, d.click_window_ms),
    probabilistic_view_window_ms: Math.min(view, d.view_window_ms),
  };
  // Assigned, not spread from a literal: made for every destination of every event.
  if (d.view_requires_viewable) rules.view_requires_viewable = true;
  return rules;
}

/**
 * The destination's own eligibility rule (issue 24): under `view_requires_viewable` an
 * impression earns credit only when the viewability tag saw it viewable (MRC); the sentence
 * saying why not, else null. Clicks and unflagged destinations are untouched.
 */
export function unviewedReason(touch: Touch, rules: AttributionRules): string | null {
  if (!rules.view_requires_viewable || touch.kind !== 'impression' || touch.view?.viewable)
    return null;
  return notViewableReason(touch.touch_id, touch.view);
}

/**
 * What clamping changed, said in the words of the config file: an empty list when the
 * probabilistic windows fit inside the destination's own.
 */
export function probabilisticWindowNotes(d: DestinationWindows): string[] {
  const notes: string[] = [];
  const pairs = [
    ['click', d.probabilistic_click_window_ms, d.click_window_ms],
    ['view', d.probabilistic_view_window_ms, d.view_window_ms],
  ] as const;
  for (const [kind, p, own] of pairs) {
    const asked = p ?? DEFAULT_PROBABILISTIC_WINDOW_MS;
    if (asked > own)
      notes.push(
        `probabilistic_${kind}_window ${formatDurationMs(asked)} is longer than ` +
          `${kind}_window ${formatDurationMs(own)}: ${formatDurationMs(own)} is used`,
      );
  }
  return notes;
}

/** An anonymous id known to belong to the converting person through a stronger key. */
export interface LinkedAnonymousId {
  anonymous_id: string;
  via: 'user_id' | 'email' | 'phone';
}

/** A strong key of a person (a user id, or a hashed e-mail or phone) that links browser ids. */
export interface IdentityKey {
  key_type: LinkedAnonymousId['via'];
  key_value: string;
}

/** What we know about the converting person. */
export interface ConversionIdentity {
  /** Unix seconds. */
  time: number;
  user: UserKeys;
  linked: LinkedAnonymousId[];
}

/** The credit given to one touch, as the webhook contract shows it (DESIGN §5). */
export interface Attribution {
  type: 'click' | 'view';
  imp_id: string | null;
  click_id: string | null;
  campaign_id: string | null;
  creative_id: string | null;
  placement_id: string | null;
  touch_time: number;
  match_key: MatchKey;
  match_type: MatchType;
  window: string;
  model: 'last_touch';
}

export type AttributionDecision =
  | { attributed: true; attribution: Attribution }
  | { attributed: false; reason: string };

/** The strongest key under which `touch` belongs to the person, or `null`. */
export function matchKeyFor(touch: Touch, who: ConversionIdentity): MatchKey | null {
  return keyMatcher(who)(touch);
}

/**
 * matchKeyFor for many touches of one person: what the person's ids give is worked out once.
 * Done per touch, the linked browser ids' strongest key (a filter, a map and a sort) and the
 * device ids (an array) were most of attribute()'s and the path's CPU on a busy address's
 * ~220 touches (issue 22, one destination, hot: attribute 41 -> 17 µs, the path's touches
 * 35 -> 20 µs).
 */
export function keyMatcher(who: ConversionIdentity): (touch: Touch) => MatchKey | null {
  const u = who.user;
  // The key each browser or device id of the person gives: a cookie seen together with the
  // user id, email or phone counts as the strongest of those; else a cookie over a device id.
  const byAnonymousId = new Map<string, MatchKey>();
  for (const id of deviceAnonymousIds(u)) byAnonymousId.set(id, 'device_id');
  if (u.anonymous_id) byAnonymousId.set(u.anonymous_id, 'cookie');
  if (u.cookie_id) byAnonymousId.set(u.cookie_id, 'cookie');
  for (const l of who.linked) {
    const had = byAnonymousId.get(l.anonymous_id);
    if (had === undefined || MATCH_KEY_RANK[l.via] < MATCH_KEY_RANK[had])
      byAnonymousId.set(l.anonymous_id, l.via);
  }
  const { install_referrer_click_id, user_id, click_id, imp_id, ip, user_agent } = u;
  return (touch) => {
    if (touch.kind === 'click' && touch.touch_id === install_referrer_click_id)
      return 'install_referrer';
    if (user_id && touch.user_id === user_id) return 'user_id';
    if (touch.anonymous_id) {
      const key = byAnonymousId.get(touch.anonymous_id);
      if (key) return key;
    }
    if (touch.kind === 'click' && click_id && touch.touch_id === click_id) return 'click_id';
    if (touch.kind === 'impression' && imp_id && touch.touch_id === imp_id) return 'imp_id';
    if (ip && touch.ip === ip)
      return user_agent && touch.user_agent === user_agent ? 'ip+ua' : 'ip';
    return null;
  };
}

/** The window a touch of `kind` found by `key` must fall in, under a destination's rules. */
export function windowMs(kind: TouchKind, key: MatchKey, rules: AttributionRules): number {
  if (matchTypeOf(key) === 'probabilistic')
    return kind === 'click'
      ? rules.probabilistic_click_window_ms
      : rules.probabilistic_view_window_ms;
  return kind === 'click' ? rules.click_window_ms : rules.view_window_ms;
}

/** The window as attributions and reasons name it: `7d click`, `1d probabilistic view`. */
export function describeWindow(kind: TouchKind, key: MatchKey, rules: AttributionRules): string {
  const type = kind === 'click' ? 'click' : 'view';
  const p = matchTypeOf(key) === 'probabilistic' ? 'probabilistic ' : '';
  return `${formatDurationMs(windowMs(kind, key, rules))} ${p}${type}`;
}

/** A touch of the person, of this destination or none, not after the conversion. */
export interface Candidate {
  touch: Touch;
  key: MatchKey;
  match_class: MatchClass;
  /** Conversion time minus touch time, seconds (down to -CLOCK_SKEW_S). */
  gap_s: number;
  in_window: boolean;
  /** Why this touch may not be credited for this conversion (rules.exclude), or null. */
  excluded: string | null;
}

/** 0 for the click Google Play's install referrer names, which leads its class; else 1. */
const referrerLast = (c: Candidate) => (c.key === 'install_referrer' ? 0 : 1);

/**
 * Orders candidates best first (DESIGN §6): the stronger class, then the click a Play install
 * referrer names (the install came from it, whatever clicked later), then the latest touch,
 * then the stronger key; then, so the choice never depends on storage order, a touch naming
 * this destination over one naming none, then the smaller touch id.
 */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.match_class - b.match_class ||
    referrerLast(a) - referrerLast(b) ||
    b.touch.time - a.touch.time ||
    MATCH_KEY_RANK[a.key] - MATCH_KEY_RANK[b.key] ||
    Number(a.touch.dest_id === null) - Number(b.touch.dest_id === null) ||
    (a.touch.touch_id < b.touch.touch_id ? -1 : a.touch.touch_id > b.touch.touch_id ? 1 : 0)
  );
}

/**
 * The touches that compete for one destination's credit, best first: the person's own (by
 * any key), of this destination or none, not after the conversion (allowing clock skew).
 * Those outside their class's window come back with `in_window: false`.
 */
export function candidatesFor(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: AttributionRules,
): Candidate[] {
  return unsortedCandidates(who, touches, rules).sort(compareCandidates);
}

/** candidatesFor's candidates in the order of `touches`. */
function unsortedCandidates(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: AttributionRules,
): Candidate[] {
  const keyOf = keyMatcher(who);
  const out: Candidate[] = [];
  for (const touch of touches) {
    // Visits (a landing from search, social, e-mail, a campaign link) feed the reports'
    // models only: a destination is credited with ad touches alone (issue 23).
    if (touch.kind === 'visit') continue;
    if (touch.dest_id !== null && touch.dest_id !== rules.dest_id) continue;
    if (cameAfter(touch.time, who.time)) continue;
    const key = keyOf(touch);
    if (!key) continue;
    const gap_s = who.time - touch.time;
    out.push({
      touch,
      key,
      match_class: matchClassOf(touch.kind, key),
      gap_s,
      in_window: gap_s * 1000 <= windowMs(touch.kind, key, rules),
      excluded: unviewedReason(touch, rules) ?? rules.exclude?.(touch, key, gap_s) ?? null,
    });
  }
  return out;
}

/** A time gap as people read it: `26 h`, `1.5 h`, `12 min`, `40 s`. */
export function describeGap(seconds: number): string {
  if (seconds >= 86_400) return `${Math.round(seconds / 3600)} h`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  return `${seconds} s`;
}

/**
 * The reason of an unattributed decision: the best touch inside its window that the
 * conversion's eligibility filter barred, else the nearest touch and the window it missed.
 */
function missReason(missed: readonly Candidate[], rules: AttributionRules): string {
  const barred = missed.find((c) => c.in_window && c.excluded);
  if (barred)
    return (
      unviewedReason(barred.touch, rules) ??
      `${barred.touch.kind} ${barred.touch.touch_id} via ${barred.key} earns no credit: ${barred.excluded}`
    );
  let near: Candidate | undefined;
  for (const c of missed) if (!near || c.gap_s < near.gap_s) near = c;
  if (!near) return 'no touch of this person for this destination';
  const t = near.touch;
  return (
    `${t.kind} ${t.touch_id} via ${near.key} was ${describeGap(near.gap_s)} before, ` +
    `outside the ${describeWindow(t.kind, near.key, rules)} window`
  );
}

/** The attribution record of a winning candidate. */
export function attributionOf(best: Candidate, rules: AttributionRules): Attribution {
  const t = best.touch;
  return {
    type: t.kind === 'click' ? 'click' : 'view',
    imp_id: t.kind === 'impression' ? t.touch_id : null,
    click_id: t.kind === 'click' ? t.touch_id : null,
    campaign_id: t.campaign_id,
    creative_id: t.creative_id,
    placement_id: t.placement_id,
    touch_time: t.time,
    match_key: best.key,
    match_type: matchTypeOf(best.key),
    window: formatDurationMs(windowMs(t.kind, best.key, rules)),
    model: 'last_touch',
  };
}

/**
 * Last-touch attribution for one destination (DESIGN §6). The winner comes from the first
 * class with a touch inside its window — deterministic click, deterministic impression,
 * `ip+ua` click, `ip+ua` impression, `ip` click, `ip` impression — so a shared address never
 * takes credit from the person's own cookie-matched touch. Inside a class the latest touch
 * wins. Touches of other destinations and visits are never credited, nor those the
 * conversion's eligibility filter (`rules.exclude`) bars: the next eligible touch wins instead.
 */
export function attribute(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: AttributionRules,
): AttributionDecision {
  // The first of candidatesFor's order that may win, in one pass: sorting them all (~150 ad
  // touches of a busy address, issue 22) is for the reason of a miss alone.
  const candidates = unsortedCandidates(who, touches, rules);
  let best: Candidate | undefined;
  for (const c of candidates)
    if (c.in_window && !c.excluded && (!best || compareCandidates(c, best) < 0)) best = c;
  if (!best)
    return { attributed: false, reason: missReason(candidates.sort(compareCandidates), rules) };
  return { attributed: true, attribution: attributionOf(best, rules) };
}
