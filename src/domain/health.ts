import type { TrackedEvent } from './event.js';

/** Traffic-light state of one thing the health page watches. */
export type Light = 'green' | 'amber' | 'red';
export interface Graded {
  light: Light;
  reason: string;
}

/** Identity keys and their weight in the match-quality score (out of 10). */
const KEY_WEIGHTS: ReadonlyArray<[string, number, (e: TrackedEvent) => boolean, string]> = [
  ['email', 3, (e) => !!e.user.email_sha256, 'send the (hashed) email on purchases and sign-ups'],
  ['user_id', 2, (e) => !!e.user.user_id, 'send your user_id once people log in'],
  ['phone', 1, (e) => !!e.user.phone_sha256, 'send the phone when you have it'],
  [
    'cookie',
    2,
    (e) => !!(e.user.anonymous_id || e.user.cookie_id),
    'load the tag, or forward the ptid cookie from your backend',
  ],
  ['ip', 1, (e) => !!e.user.ip, "forward the buyer's IP from your backend"],
  ['user_agent', 1, (e) => !!e.user.user_agent, "forward the buyer's user agent from your backend"],
];

/** Like Meta's Event Match Quality: which keys events carry, a 0–10 score, and what to add. */
export interface MatchQuality {
  score: number;
  sample: number;
  coverage: Record<string, number>;
  advice: string[];
}

/** Scores a sample of events by the identity keys they carry (weights above). */
export function matchQuality(events: readonly TrackedEvent[]): MatchQuality {
  const coverage: Record<string, number> = {};
  let score = 0;
  const advice: string[] = [];
  for (const [name, weight, has, tip] of KEY_WEIGHTS) {
    const share = events.length === 0 ? 0 : events.filter(has).length / events.length;
    coverage[name] = Math.round(share * 100) / 100;
    score += weight * share;
    if (share < 0.5) advice.push(`${name} on ${Math.round(share * 100)} % of events: ${tip}`);
  }
  return { score: Math.round(score * 10) / 10, sample: events.length, coverage, advice };
}

/** Minutes of silence before a source that was sending is flagged. */
export const QUIET_AMBER_MIN = 15;
export const QUIET_RED_MIN = 60;

/** A source's light from when it was last seen, its duplicate share and its match quality. */
export function gradeSource(
  lastMs: number | null,
  nowMs: number,
  dedupRate: number,
  quality: number,
): Graded {
  if (lastMs === null) return { light: 'amber', reason: 'no events in the last 24 h' };
  const quietMin = (nowMs - lastMs) / 60_000;
  if (quietMin > QUIET_RED_MIN)
    return { light: 'red', reason: `silent for ${Math.round(quietMin)} min` };
  if (quietMin > QUIET_AMBER_MIN)
    return { light: 'amber', reason: `silent for ${Math.round(quietMin)} min` };
  if (dedupRate > 0.5)
    return {
      light: 'amber',
      reason: `${Math.round(dedupRate * 100)} % duplicates: check event ids`,
    };
  if (quality < 4) return { light: 'amber', reason: `match quality ${quality}/10: see advice` };
  return { light: 'green', reason: 'receiving, well keyed' };
}

/** A destination's light from its recent success rate, backlog and pause state. */
export function gradeDestination(
  paused: string | null,
  successRate: number | null,
  backlog: number,
  oldestPendingMin: number | null,
): Graded {
  if (paused) return { light: 'red', reason: `paused: ${paused}` };
  if (successRate !== null && successRate < 0.8)
    return { light: 'red', reason: `${Math.round(successRate * 100)} % of attempts succeed` };
  if (oldestPendingMin !== null && oldestPendingMin > 60)
    return {
      light: 'amber',
      reason: `${backlog} waiting, oldest ${Math.round(oldestPendingMin)} min`,
    };
  if (successRate !== null && successRate < 0.98)
    return { light: 'amber', reason: `${Math.round(successRate * 100)} % of attempts succeed` };
  return { light: 'green', reason: backlog ? `${backlog} in flight` : 'delivering' };
}

/** Share of a destination's pixel hits with unexpanded macros that turns it amber, and red. */
export const MACRO_AMBER_SHARE = 0.01;
export const MACRO_RED_SHARE = 0.5;

/**
 * A destination's light from the share of its pixel and click hits that carried unexpanded
 * ad-server macros (`params` names them): its ad server's template is broken. Null when the
 * share is below MACRO_AMBER_SHARE (or there were no hits).
 */
export function gradeMacros(share: number | null, params: readonly string[]): Graded | null {
  if (share === null || share < MACRO_AMBER_SHARE) return null;
  const reason = `${Math.round(share * 100)} % of pixel hits carry unexpanded macros (${params.join(', ')}): fix the ad server's pixel template`;
  return { light: share >= MACRO_RED_SHARE ? 'red' : 'amber', reason };
}

/** Share of a destination's conversions flagged by install fraud checks: amber, and red. */
export const FRAUD_AMBER_SHARE = 0.05;
export const FRAUD_RED_SHARE = 0.25;

/**
 * A destination's light from its conversions flagged by install fraud checks (issue 25):
 * injected or flooding clicks of its network, installs sent by no phone. Null below
 * FRAUD_AMBER_SHARE.
 */
export function gradeFraud(flagged: number, conversions: number): Graded | null {
  if (conversions === 0 || flagged / conversions < FRAUD_AMBER_SHARE) return null;
  const share = flagged / conversions;
  const reason = `${Math.round(share * 100)} % of conversions flagged by install fraud checks (${flagged} of ${conversions}): see install_fraud`;
  return { light: share >= FRAUD_RED_SHARE ? 'red' : 'amber', reason };
}

const SEVERITY: Record<Light, number> = { green: 0, amber: 1, red: 2 };

/** The more severe of two lights; `a` when they are as severe (or `b` is null). */
export function worseOf(a: Graded, b: Graded | null): Graded {
  return b && SEVERITY[b.light] > SEVERITY[a.light] ? b : a;
}
