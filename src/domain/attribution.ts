import { deviceAnonymousIds } from './device-id.js';
import { formatDurationMs } from './duration.js';
import type { Touch, TouchKind, UserKeys } from './event.js';

/** Name of the identity key that linked a conversion to a touch, strongest first. */
export type MatchKey =
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

/** A touch may be stamped a little after the conversion when clocks disagree. */
export const CLOCK_SKEW_S = 30;

/** A destination's attribution settings. */
export interface AttributionRules {
  dest_id: string;
  click_window_ms: number;
  view_window_ms: number;
}

/** An anonymous id known to belong to the converting person through a stronger key. */
export interface LinkedAnonymousId {
  anonymous_id: string;
  via: 'user_id' | 'email' | 'phone';
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
  window: string;
  model: 'last_touch';
}

export type AttributionDecision =
  | { attributed: true; attribution: Attribution }
  | { attributed: false; reason: string };

/** The strongest key under which `touch` belongs to the person, or `null`. */
export function matchKeyFor(touch: Touch, who: ConversionIdentity): MatchKey | null {
  const u = who.user;
  if (u.user_id && touch.user_id === u.user_id) return 'user_id';
  if (touch.anonymous_id) {
    // A cookie seen together with the user id, email or phone counts as that stronger key.
    const via = who.linked
      .filter((l) => l.anonymous_id === touch.anonymous_id)
      .map((l) => l.via)
      .sort((a, b) => MATCH_KEY_RANK[a] - MATCH_KEY_RANK[b])[0];
    if (via) return via;
    if (touch.anonymous_id === u.anonymous_id || touch.anonymous_id === u.cookie_id)
      return 'cookie';
    if (deviceAnonymousIds(u).includes(touch.anonymous_id)) return 'device_id';
  }
  if (touch.kind === 'click' && u.click_id && touch.touch_id === u.click_id) return 'click_id';
  if (touch.kind === 'impression' && u.imp_id && touch.touch_id === u.imp_id) return 'imp_id';
  if (u.ip && touch.ip === u.ip) {
    return u.user_agent && touch.user_agent === u.user_agent ? 'ip+ua' : 'ip';
  }
  return null;
}

/** The window of a touch kind under a destination's rules. */
export function windowMs(kind: TouchKind, rules: AttributionRules): number {
  return kind === 'click' ? rules.click_window_ms : rules.view_window_ms;
}

interface Candidate {
  touch: Touch;
  key: MatchKey;
}

/** Orders candidates best first: clicks before impressions, stronger key, then latest. */
function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.touch.kind !== b.touch.kind) return a.touch.kind === 'click' ? -1 : 1;
  const rank = MATCH_KEY_RANK[a.key] - MATCH_KEY_RANK[b.key];
  if (rank !== 0) return rank;
  return b.touch.time - a.touch.time;
}

/** A time gap as people read it: `26 h`, `1.5 h`, `12 min`, `40 s`. */
export function describeGap(seconds: number): string {
  if (seconds >= 86_400) return `${Math.round(seconds / 3600)} h`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  return `${seconds} s`;
}

/**
 * Last-touch attribution for one destination (DESIGN §6): a click inside the click window
 * beats any impression; among touches of one kind the strongest match key wins, and among
 * equals the latest. Touches of other destinations are never credited.
 */
export function attribute(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: AttributionRules,
): AttributionDecision {
  const inWindow: Candidate[] = [];
  const missed: Array<Candidate & { gap: number }> = [];
  for (const touch of touches) {
    if (touch.dest_id !== null && touch.dest_id !== rules.dest_id) continue;
    const key = matchKeyFor(touch, who);
    if (!key) continue;
    const gap = who.time - touch.time;
    if (gap < -CLOCK_SKEW_S) continue;
    if (gap * 1000 <= windowMs(touch.kind, rules)) inWindow.push({ touch, key });
    else missed.push({ touch, key, gap });
  }
  inWindow.sort(compareCandidates);
  const best = inWindow[0];
  if (!best) {
    missed.sort((a, b) => a.gap - b.gap);
    const near = missed[0];
    if (!near) return { attributed: false, reason: 'no touch of this person for this destination' };
    const w = formatDurationMs(windowMs(near.touch.kind, rules));
    const kind = near.touch.kind === 'click' ? 'click' : 'view';
    return {
      attributed: false,
      reason:
        `${near.touch.kind} ${near.touch.touch_id} via ${near.key} was ` +
        `${describeGap(near.gap)} before, outside the ${w} ${kind} window`,
    };
  }
  const t = best.touch;
  const type = t.kind === 'click' ? 'click' : 'view';
  return {
    attributed: true,
    attribution: {
      type,
      imp_id: t.kind === 'impression' ? t.touch_id : null,
      click_id: t.kind === 'click' ? t.touch_id : null,
      campaign_id: t.campaign_id,
      creative_id: t.creative_id,
      placement_id: t.placement_id,
      touch_time: t.time,
      match_key: best.key,
      window: formatDurationMs(windowMs(t.kind, rules)),
      model: 'last_touch',
    },
  };
}
