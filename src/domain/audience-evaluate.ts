import type {
  EventCondition,
  PropertyTest,
  RuleNode,
  TouchCondition,
} from './audience-rule-types.js';
import type { EventProperties, TouchKind } from './event.js';
import { globMatcher } from './glob-match.js';

// Membership of one person at a moment, from their events and touches (audience-rules.ts
// parses the rules).

/** What evaluation needs of one event. */
export interface PersonEvent {
  event_name: string;
  /** Unix seconds. */
  time: number;
  properties: EventProperties;
}

/** What evaluation needs of one touch. */
export interface PersonTouch {
  kind: TouchKind;
  campaign_id: string | null;
  /** Unix seconds. */
  time: number;
}

/** Everything known about one person, for evaluation. */
export interface PersonHistory {
  events: readonly PersonEvent[];
  touches: readonly PersonTouch[];
}

/** Membership at a moment, and when it may next change if nothing new arrives. */
export interface Evaluation {
  member: boolean;
  /** Unix seconds; null when only new events or touches can change it. */
  changes_at: number | null;
}

const globCache = new Map<string, (text: string) => boolean>();
/** `*` and `?` globs, compiled once each; matched in linear time (glob-match.ts). */
function glob(pattern: string): (text: string) => boolean {
  let matches = globCache.get(pattern);
  if (!matches) {
    matches = globMatcher(pattern, { anyChar: true });
    if (globCache.size < 10_000) globCache.set(pattern, matches);
  }
  return matches;
}

/** A URL matches on its path too, so `/products/*` matches `https://shop/products/1?x`. */
function urlCandidates(v: string): string[] {
  try {
    const u = new URL(v);
    return [v, u.pathname, u.pathname + u.search];
  } catch {
    return [v];
  }
}

function passes(t: PropertyTest, actual: unknown): boolean {
  switch (t.op) {
    case '>':
      return typeof actual === 'number' && actual > (t.value as number);
    case '>=':
      return typeof actual === 'number' && actual >= (t.value as number);
    case '<':
      return typeof actual === 'number' && actual < (t.value as number);
    case '<=':
      return typeof actual === 'number' && actual <= (t.value as number);
    case '=':
      return actual === t.value;
    case '!=':
      return actual !== t.value;
    case 'contains':
      if (Array.isArray(actual)) return actual.includes(t.value);
      return typeof actual === 'string' && actual.includes(String(t.value));
    case 'matches':
      return typeof actual === 'string' && urlCandidates(actual).some(glob(t.value as string));
    case 'in':
      return (t.value as ReadonlyArray<string | number>).includes(actual as string | number);
  }
}

/** Times (Unix s) at which this condition's items happened, whatever the window. */
function matchingTimes(c: EventCondition | TouchCondition, h: PersonHistory): number[] {
  if (c.type === 'touch') {
    return h.touches
      .filter(
        (t) => t.kind === c.touch && (c.campaign_id === null || t.campaign_id === c.campaign_id),
      )
      .map((t) => t.time);
  }
  return h.events
    .filter(
      (e) =>
        e.event_name === c.event &&
        c.where.every((w) => w.tests.every((t) => passes(t, e.properties[w.field]))),
    )
    .map((e) => e.time);
}

/**
 * A condition holds at `now` when a matching item is in (now − within, now]. It holds until
 * its latest such item leaves the window, and a future-dated item starts it at its time.
 */
function evalLeaf(c: EventCondition | TouchCondition, h: PersonHistory, now: number): Evaluation {
  let latestIn = -Infinity;
  let nextFuture = Infinity;
  for (const t of matchingTimes(c, h)) {
    if (t > now) nextFuture = Math.min(nextFuture, t);
    else if (t > now - c.within_s) latestIn = Math.max(latestIn, t);
  }
  const member = latestIn > -Infinity;
  const ends = member ? latestIn + c.within_s : Infinity;
  const next = Math.min(ends, nextFuture);
  return { member, changes_at: Number.isFinite(next) ? next : null };
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/**
 * Evaluates rules over one person's history at `now` (Unix s). `changes_at` is the earliest
 * moment any condition flips by the clock alone; the group's answer cannot change before,
 * so a stored membership stays exact until then.
 */
export function evaluate(node: RuleNode, h: PersonHistory, now: number): Evaluation {
  if (node.type !== 'group') return evalLeaf(node, h, now);
  let changes_at: number | null = null;
  const results = (list: readonly RuleNode[]) =>
    list.map((n) => {
      const r = evaluate(n, h, now);
      changes_at = earliest(changes_at, r.changes_at);
      return r.member;
    });
  const all = results(node.all);
  const any = results(node.any);
  const none = results(node.none);
  const member =
    all.every(Boolean) && (node.any.length === 0 || any.some(Boolean)) && !none.some(Boolean);
  return { member, changes_at };
}
