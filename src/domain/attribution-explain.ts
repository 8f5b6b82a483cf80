import {
  type AttributionRules,
  attribute,
  type Candidate,
  type ConversionIdentity,
  candidatesFor,
  describeClass,
  describeGap,
  describeWindow,
  MATCH_KEY_RANK,
  type MatchClass,
  type MatchKey,
  type MatchType,
  matchTypeOf,
} from './attribution.js';
import { cameAfter } from './clock-skew.js';
import { deviceAnonymousIds } from './device-id.js';
import type { Touch } from './event.js';
import type { AppKind } from './mobile-platform.js';
import { type Viewability, viewabilityOf } from './viewability.js';

/** Touches shown per match key: the nearest in time to the conversion. */
export const EXPLAIN_TOUCHES_PER_KEY = 3;
/** In-window candidates named as passed over, best first. */
export const EXPLAIN_PASSED_OVER = 5;

/** What one touch was, for one conversion and destination. */
export type TouchVerdict =
  | 'credited'
  | 'beaten'
  | 'outside_window'
  | 'other_destination'
  | 'after_conversion'
  | 'consent_denied'
  /** Inside its window, but barred by the conversion's eligibility filter (issue 25). */
  | 'not_eligible';

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
  match_type: MatchType;
  verdict: TouchVerdict;
  message: string;
  /** An impression's viewability (served, measurable, viewable…); null for a click (issue 24). */
  viewability: Viewability | null;
}

/** An in-window touch that lost to the credited one, and the rule that decided it. */
export interface PassedOver {
  kind: Touch['kind'];
  touch_id: string;
  match_key: MatchKey;
  match_type: MatchType;
  match_class: MatchClass;
  /** Unix seconds. */
  time: number;
  reason: string;
}

/** Why a conversion was, or was not, credited to a destination's touch. */
export interface AttributionExplanation {
  dest_id: string;
  attributed: boolean;
  summary: string;
  /** The credited touch's class, when one was credited. */
  match_type: MatchType | null;
  /** The competing touches inside their windows that lost, best first, each with why. */
  passed_over: PassedOver[];
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
  if (touch.kind === 'click' && touch.touch_id === u.install_referrer_click_id)
    keys.push('install_referrer');
  if (u.user_id && touch.user_id === u.user_id) keys.push('user_id');
  if (touch.anonymous_id) {
    for (const l of who.linked) if (l.anonymous_id === touch.anonymous_id) keys.push(l.via);
    if (touch.anonymous_id === u.anonymous_id || touch.anonymous_id === u.cookie_id)
      keys.push('cookie');
    if (deviceAnonymousIds(u).includes(touch.anonymous_id)) keys.push('device_id');
  }
  if (touch.kind === 'click' && u.click_id && touch.touch_id === u.click_id) keys.push('click_id');
  if (touch.kind === 'impression' && u.imp_id && touch.touch_id === u.imp_id) keys.push('imp_id');
  if (u.ip && touch.ip === u.ip) {
    keys.push(u.user_agent && touch.user_agent === u.user_agent ? 'ip+ua' : 'ip');
  }
  return [...new Set(keys)].sort((a, b) => MATCH_KEY_RANK[a] - MATCH_KEY_RANK[b]);
}

/**
 * The keys the conversion lacked, as the sender could add them. An app has no cookie, and on
 * iOS an IP earns nothing (mobile-platform.ts): an app is advised the ids it can send — the
 * advertising id (on iOS, with ATT authorization), the user id, a click id, and on Android
 * Google Play's install referrer.
 */
function missingKeys(who: ConversionIdentity, app: AppKind | null): string[] {
  const u = who.user;
  const people = { user_id: !!u.user_id, email: !!u.email_sha256, phone: !!u.phone_sha256 };
  const has: Record<string, boolean> =
    app === 'ios'
      ? { ...people, 'idfa (with ATT authorization)': !!u.idfa, click_id: !!u.click_id }
      : app === 'android'
        ? {
            ...people,
            gaid: !!u.gaid,
            click_id: !!u.click_id,
            install_referrer: !!u.install_referrer_click_id,
          }
        : app === 'app'
          ? {
              ...people,
              'idfa (with ATT authorization) or gaid': !!(u.idfa || u.gaid),
              click_id: !!u.click_id,
            }
          : {
              ...people,
              cookie: !!(u.anonymous_id || u.cookie_id),
              click_id: !!u.click_id,
              ip: !!u.ip,
              user_agent: !!u.user_agent,
            };
  return Object.keys(has).filter((k) => !has[k]);
}

function nameOf(c: Pick<Candidate, 'touch' | 'key'>): string {
  return `${c.touch.kind} ${c.touch.touch_id} via ${c.key}`;
}

/** Why `loser`, inside its window, lost to `winner` (they are ordered by compareCandidates). */
function lostBecause(loser: Candidate, winner: Candidate): string {
  const won = `${nameOf(winner)} (${describeClass(winner.match_class)})`;
  if (loser.match_class !== winner.match_class) {
    const lost = describeClass(loser.match_class);
    return `${/^[aeiou]/.test(lost) ? 'an' : 'a'} ${lost} ranks below the credited ${won}`;
  }
  if (winner.key === 'install_referrer' && loser.key !== 'install_referrer')
    return `the credited ${won} is the click Google Play's install referrer names`;
  if (loser.touch.time !== winner.touch.time)
    return `the credited ${won} is of the same class and later`;
  if (loser.key !== winner.key)
    return `the credited ${won} is of the same class and time, with a stronger key`;
  return `the credited ${won} is of the same class, time and key and comes first`;
}

type Role = 'credited' | 'also' | 'passed' | 'also_passed' | 'excluded' | 'other';

function verdictOf(
  touch: Touch,
  key: MatchKey,
  time: number,
  rules: AttributionRules,
  role: Role,
  consentDenied: boolean,
  because: string | undefined,
): { verdict: TouchVerdict; message: string } {
  const name = nameOf({ touch, key });
  const gap = time - touch.time;
  const window = describeWindow(touch.kind, key, rules);
  if (touch.dest_id !== null && touch.dest_id !== rules.dest_id)
    return {
      verdict: 'other_destination',
      message: `${name} was served by ${touch.dest_id}; ${rules.dest_id} is credited only for its own touches`,
    };
  if (cameAfter(touch.time, time))
    return {
      verdict: 'after_conversion',
      message: `${name} came ${describeGap(-gap)} after the conversion`,
    };
  if (role === 'credited')
    return {
      verdict: 'credited',
      message: `${name}, ${describeGap(Math.max(gap, 0))} before: credited`,
    };
  if (role === 'also')
    return { verdict: 'credited', message: `${name}: the credited touch, also found by this key` };
  if (role === 'other')
    return {
      verdict: 'outside_window',
      message: `${name} was ${describeGap(gap)} before, outside the ${window} window`,
    };
  if (consentDenied)
    return {
      verdict: 'consent_denied',
      message: `${name} was inside the ${window} window, but ads consent was denied`,
    };
  if (role === 'excluded')
    return {
      verdict: 'not_eligible',
      message: `${name} was inside the ${window} window, but earns no credit: ${because}`,
    };
  if (role === 'also_passed')
    return { verdict: 'beaten', message: `${name}: also found by a stronger key; passed over` };
  return {
    verdict: 'beaten',
    message: `${name} was inside the ${window} window; passed over: ${because ?? 'not credited'}`,
  };
}

function summaryOf(
  consentDenied: boolean,
  winner: Candidate | undefined,
  reason: string | null,
  rules: AttributionRules,
): string {
  if (consentDenied) return 'ads consent was denied: no touch may be credited';
  if (!winner) return reason ?? 'unattributed';
  const t = winner.touch;
  const what = t.kind === 'click' ? `click ${t.touch_id}` : `impression ${t.touch_id}`;
  return (
    `credited ${what} via ${winner.key}, ${matchTypeOf(winner.key)} ` +
    `(${describeWindow(t.kind, winner.key, rules)} window)`
  );
}

/**
 * Explains the attribution of one conversion for one destination (DESIGN §6): which touch
 * won and its class, every competing touch inside its window that was passed over and why
 * (a weaker class, an earlier touch, a weaker key), and each touch of the person under each
 * key that found it with the rule — window, destination, timing or consent — it met or
 * missed. Pure: the caller reads the touches. `app`: the app the event came from
 * (mobile-platform.ts appKindOf), whose advice on missing keys differs from the web's.
 */
export function explainAttribution(
  who: ConversionIdentity,
  all: readonly Touch[],
  rules: AttributionRules,
  consentDenied: boolean,
  app: AppKind | null = null,
): AttributionExplanation {
  // Visits are never a destination's to claim: they are not explained as candidates.
  const touches = all.filter((t) => t.kind !== 'visit');
  const candidates = candidatesFor(who, touches, rules);
  const inWindow = candidates.filter((c) => c.in_window && !c.excluded);
  const winner = consentDenied ? undefined : inWindow[0];
  const decision = consentDenied ? null : attribute(who, touches, rules);
  const roles = new Map<Touch, Role>();
  const because = new Map<Touch, string>();
  // Barred touches (an iOS app event's IP match, an injected click) say why, consent or not.
  for (const c of candidates)
    if (c.in_window && c.excluded) {
      roles.set(c.touch, 'excluded');
      because.set(c.touch, c.excluded);
    }
  for (const c of inWindow) {
    roles.set(c.touch, c === winner ? 'credited' : 'passed');
    if (winner && c !== winner) because.set(c.touch, lostBecause(c, winner));
  }
  const passed_over = winner
    ? inWindow.slice(1, 1 + EXPLAIN_PASSED_OVER).map((c) => ({
        kind: c.touch.kind,
        touch_id: c.touch.touch_id,
        match_key: c.key,
        match_type: matchTypeOf(c.key),
        match_class: c.match_class,
        time: c.touch.time,
        reason: `${nameOf(c)}: ${because.get(c.touch)}`,
      }))
    : [];
  const groups = new Map<MatchKey, ExplainedTouch[]>();
  for (const touch of touches) {
    const keys = matchKeysFor(touch, who);
    const gap = who.time - touch.time;
    const role = roles.get(touch) ?? 'other';
    for (const key of keys) {
      const weaker = key !== keys[0];
      const keyRole =
        weaker && role === 'credited' ? 'also' : weaker && role === 'passed' ? 'also_passed' : role;
      const v = verdictOf(touch, key, who.time, rules, keyRole, consentDenied, because.get(touch));
      const list = groups.get(key) ?? [];
      list.push({
        kind: touch.kind,
        touch_id: touch.touch_id,
        dest_id: touch.dest_id,
        campaign_id: touch.campaign_id,
        time: touch.time,
        gap_s: gap,
        match_key: key,
        match_type: matchTypeOf(key),
        ...v,
        viewability: viewabilityOf(touch),
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
  const reason = decision && !decision.attributed ? decision.reason : null;
  return {
    dest_id: rules.dest_id,
    attributed: !!winner,
    summary: summaryOf(consentDenied, winner, reason, rules),
    match_type: winner ? matchTypeOf(winner.key) : null,
    passed_over,
    by_key,
    missing_keys: missingKeys(who, app),
  };
}
