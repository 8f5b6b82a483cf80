import { sha256Hex } from './identity.js';

// A holdout (issue 23 §3): a fixed fraction of the people of an audience or a campaign who
// are never shown it, so that what they do measures what the ads added. Who is held out is
// decided by a hash of the person id alone, so every process, every run and every replica
// agrees without storing the split, and the split of a person never changes while the
// fraction stays.

/** What a holdout holds people out of. */
export const HOLDOUT_SUBJECTS = ['audience', 'campaign'] as const;
export type HoldoutSubject = (typeof HOLDOUT_SUBJECTS)[number];

/** The two groups of a holdout test. */
export type HoldoutGroup = 'exposed' | 'holdout';

/** Conversion events a lift report counts when the holdout names none. */
export const DEFAULT_LIFT_EVENTS: readonly string[] = ['Purchase'];

/** A fraction in force from `from_ms` until the next span's `from_ms`. */
export interface FractionSpan {
  from_ms: number;
  fraction: number;
}

/** A holdout as stored. */
export interface Holdout {
  env_id: string;
  id: string;
  name: string;
  subject_type: HoldoutSubject;
  /** The audience id, or the campaign id of touches and cost rows. */
  subject_id: string;
  /** Mixed into the hash so two holdouts hold out independent people; never changes. */
  salt: string;
  /** Every fraction the holdout has had, oldest first; the last is in force now. */
  fractions: readonly FractionSpan[];
  /** Event names the lift report counts as conversions. */
  conversion_events: readonly string[];
  created_at_ms: number;
  updated_at_ms: number;
}

/** 2^52: the 13 hex digits read below fit a double exactly. */
const HASH_SPACE = 2 ** 52;

/**
 * Where a person falls on [0, 1): the first 52 bits of SHA-256(salt ":" person). SHA-256's
 * output is uniform, so `position < f` holds for a fraction f of people, independently of
 * any other holdout's salt, and the same in every process and every run.
 */
export function holdoutPosition(salt: string, person: string): number {
  return Number.parseInt(sha256Hex(`${salt}:${person}`).slice(0, 13), 16) / HASH_SPACE;
}

/** The fraction in force at `at_ms` (the first one before the holdout existed). */
export function fractionAt(h: Pick<Holdout, 'fractions'>, at_ms: number): number {
  let f = h.fractions[0]?.fraction ?? 0;
  for (const span of h.fractions) if (span.from_ms <= at_ms) f = span.fraction;
  return f;
}

/** The fraction in force now. */
export function currentFraction(h: Pick<Holdout, 'fractions'>): number {
  return h.fractions.at(-1)?.fraction ?? 0;
}

/**
 * The group of a person at `at_ms` (now when left out). Positions are compared with the
 * fraction, so raising it only moves exposed people into the holdout and lowering it only
 * moves held-out people back: nobody else changes group.
 */
export function groupOf(
  h: Pick<Holdout, 'salt' | 'fractions'>,
  person: string,
  at_ms = Number.POSITIVE_INFINITY,
): HoldoutGroup {
  return holdoutPosition(h.salt, person) < fractionAt(h, at_ms) ? 'holdout' : 'exposed';
}

/** The fractions after a change at `at_ms`: the same list when the fraction stays. */
export function withFraction(
  fractions: readonly FractionSpan[],
  fraction: number,
  at_ms: number,
): FractionSpan[] {
  if (fractions.at(-1)?.fraction === fraction) return [...fractions];
  return [...fractions, { from_ms: at_ms, fraction }];
}

/**
 * The keys a person may have entered a holdout test under: `u:<user id>` first when they
 * have one (the key a new entry takes), then `a:<browser id>` for each of their browsers.
 */
export function personKeys(who: {
  user_id: string | null;
  anonymous_ids: readonly string[];
}): string[] {
  const browsers = who.anonymous_ids.map((a) => `a:${a}`);
  return who.user_id ? [`u:${who.user_id}`, ...browsers] : browsers;
}

/**
 * A person's first entry among several (their keys entered apart, before anything linked
 * them): the earliest, ties broken by key so every process picks the same. Its key is the
 * one the person's group is hashed from for good, so a browser held out before its login
 * stays held out after it.
 */
export function firstEntry<E extends { person: string; entered_at: number }>(
  entries: readonly E[],
): E | null {
  let first: E | null = null;
  for (const e of entries)
    if (
      !first ||
      e.entered_at < first.entered_at ||
      (e.entered_at === first.entered_at && e.person < first.person)
    )
      first = e;
  return first;
}
