import {
  type AttributionRules,
  attribute,
  CLOCK_SKEW_S,
  type ConversionIdentity,
  describeGap,
  MATCH_KEY_RANK,
  type MatchKey,
  windowMs,
} from './attribution.js';
import { formatDurationMs } from './duration.js';
import type { Touch } from './event.js';

/** Touches shown per match key: the nearest in time to the conversion. */
export const EXPLAIN_TOUCHES_PER_KEY = 3;

/** What one touch was, for one conversion and destination. */
export type TouchVerdict =
  | 'credited'
  | 'beaten'
  | 'outside_window'
  | 'other_destination'
  | 'after_conversion'
  | 'consent_denied';

export interface ExplainedTouch {
  kind: Touch['kind'];
  touch_id: string;
  dest_id: string | null;
  campaign_id: string | null;
  /** Unix seconds. */
  time: number;
  /** Conversion time minus touch time, seconds; negative when the touch came after. */
  gap_s: number;
  match_key: MatchKey;
  verdict: TouchVerdict;
  message: string;
}

/** Why a conversion was, or was not, credited to a destination's touch. */
export interface AttributionExplanation {
  dest_id: string;
  attributed: boolean;
  summary: string;
  /** The nearest touches under each key that found any, strongest key first. */
  by_key: Array<{ match_key: MatchKey; touches: ExplainedTouch[] }>;
  /** Identity keys the conversion did not carry: adding them would find more touches. */
  missing_keys: string[];
}

/**
 * Every key under which `touch` belongs to the person, strongest first. The first is the
 * one attribution uses (matchKeyFor); the rest show that, say, an ip+ua touch was also found
 * by cookie.
 */
export function matchKeysFor(touch: Touch, who: ConversionIdentity): MatchKey[] {
  const u = who.user;
  const keys: MatchKey[] = [];
  if (u.user_id && touch.user_id === u.user_id) keys.push('user_id');
  if (touch.anonymous_id) {
    for (const l of who.linked) if (l.anonymous_id === touch.anonymous_id) keys.push(l.via);
    if (touch.anonymous_id === u.anonymous_id || touch.anonymous_id === u.cookie_id)
      keys.push('cookie');
  }
  if (touch.kind === 'click' && u.click_id && touch.touch_id === u.click_id) keys.push('click_id');
  if (touch.kind === 'impression' && u.imp_id && touch.touch_id === u.imp_id) keys.push('imp_id');
  if (u.ip && touch.ip === u.ip) {
    keys.push(u.user_agent && touch.user_agent === u.user_agent ? 'ip+ua' : 'ip');
  }
  return [...new Set(keys)].sort((a, b) => MATCH_KEY_RANK[a] - MATCH_KEY_RANK[b]);
}

function missingKeys(who: ConversionIdentity): string[] {
  const u = who.user;
  const has: Record<string, boolean> = {
    user_id: !!u.user_id,
    email: !!u.email_sha256,
    phone: !!u.phone_sha256,
    cookie: !!(u.anonymous_id || u.cookie_id),
    click_id: !!u.click_id,
    ip: !!u.ip,
    user_agent: !!u.user_agent,
  };
  return Object.keys(has).filter((k) => !has[k]);
}

function verdictOf(
  touch: Touch,
  key: MatchKey,
  gap: number,
  rules: AttributionRules,
  credited: 'strongest' | 'weaker' | false,
  consentDenied: boolean,
): { verdict: TouchVerdict; message: string } {
  const name = `${touch.kind} ${touch.touch_id} via ${key}`;
  const type = touch.kind === 'click' ? 'click' : 'view';
  const window = formatDurationMs(windowMs(touch.kind, rules));
  if (touch.dest_id !== null && touch.dest_id !== rules.dest_id)
    return {
      verdict: 'other_destination',
      message: `${name} was served by ${touch.dest_id}; ${rules.dest_id} is credited only for its own touches`,
    };
  if (gap < -CLOCK_SKEW_S)
    return {
      verdict: 'after_conversion',
      message: `${name} came ${describeGap(-gap)} after the conversion`,
    };
  if (gap * 1000 > windowMs(touch.kind, rules))
    return {
      verdict: 'outside_window',
      message: `${name} was ${describeGap(gap)} before, outside the ${window} ${type} window`,
    };
  if (consentDenied)
    return {
      verdict: 'consent_denied',
      message: `${name} was inside the ${window} ${type} window, but ads consent was denied`,
    };
  if (credited === 'strongest')
    return {
      verdict: 'credited',
      message: `${name}, ${describeGap(Math.max(gap, 0))} before: credited`,
    };
  if (credited === 'weaker')
    return { verdict: 'credited', message: `${name}: the credited touch, also found by this key` };
  return {
    verdict: 'beaten',
    message: `${name} was inside the ${window} ${type} window; a click, a stronger key or a later touch won`,
  };
}

/**
 * Explains the attribution of one conversion for one destination (DESIGN §6): each touch of
 * the person, under each key that found it, and which rule — window, destination, timing or
 * consent — it met or missed. Pure: the caller reads the touches.
 */
export function explainAttribution(
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: AttributionRules,
  consentDenied: boolean,
): AttributionExplanation {
  const decision = consentDenied ? null : attribute(who, touches, rules);
  const won = decision?.attributed ? decision.attribution : null;
  const groups = new Map<MatchKey, ExplainedTouch[]>();
  for (const touch of touches) {
    const keys = matchKeysFor(touch, who);
    const gap = who.time - touch.time;
    const credited =
      !!won &&
      keys[0] === won.match_key &&
      touch.time === won.touch_time &&
      touch.touch_id === (touch.kind === 'click' ? won.click_id : won.imp_id);
    for (const key of keys) {
      const role = credited ? (key === keys[0] ? 'strongest' : 'weaker') : false;
      const v = verdictOf(touch, key, gap, rules, role, consentDenied);
      const list = groups.get(key) ?? [];
      list.push({
        kind: touch.kind,
        touch_id: touch.touch_id,
        dest_id: touch.dest_id,
        campaign_id: touch.campaign_id,
        time: touch.time,
        gap_s: gap,
        match_key: key,
        ...v,
      });
      groups.set(key, list);
    }
  }
  const by_key = [...groups.entries()]
    .sort(([a], [b]) => MATCH_KEY_RANK[a] - MATCH_KEY_RANK[b])
    .map(([match_key, list]) => ({
      match_key,
      touches: list
        .sort((a, b) => Math.abs(a.gap_s) - Math.abs(b.gap_s))
        .slice(0, EXPLAIN_TOUCHES_PER_KEY),
    }));
  let summary: string;
  if (consentDenied) summary = 'ads consent was denied: no touch may be credited';
  else if (won)
    summary = `credited ${won.type === 'click' ? `click ${won.click_id}` : `impression ${won.imp_id}`} via ${won.match_key} (${won.window} ${won.type} window)`;
  else if (decision && !decision.attributed) summary = decision.reason;
  else summary = 'unattributed';
  return {
    dest_id: rules.dest_id,
    attributed: !!won,
    summary,
    by_key,
    missing_keys: missingKeys(who),
  };
}
