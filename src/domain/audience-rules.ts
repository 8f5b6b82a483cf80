import { parseDurationMs } from './duration.js';
import type { EventProperties, TouchKind } from './event.js';
import { globMatcher } from './glob-match.js';

/** Longest window a condition may look back: touches are kept 90 days (DESIGN §6). */
export const MAX_WITHIN_S = 400 * 86_400;
/** Deepest nesting of groups, to keep evaluation and error paths readable. */
const MAX_DEPTH = 8;

/** Comparison operators of a `where` filter. */
export const WHERE_OPERATORS = [
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'contains',
  'matches',
  'in',
] as const;
export type WhereOperator = (typeof WHERE_OPERATORS)[number];

/** One property test; a bare string is a glob (`/products/*`), any other scalar is equality. */
export interface PropertyTest {
  op: WhereOperator;
  value: string | number | boolean | ReadonlyArray<string | number>;
}

/** "The person did EVENT within DUR (with these properties)". */
export interface EventCondition {
  type: 'event';
  event: string;
  within_s: number;
  where: ReadonlyArray<{ field: string; tests: readonly PropertyTest[] }>;
}

/** "The person saw (impression) or clicked an ad, of this campaign, within DUR". */
export interface TouchCondition {
  type: 'touch';
  touch: TouchKind;
  campaign_id: string | null;
  within_s: number;
}

/** `all` (AND), `any` (OR), `none` (NOT any); a group holds at least one of them. */
export interface RuleGroup {
  type: 'group';
  all: readonly RuleNode[];
  any: readonly RuleNode[];
  none: readonly RuleNode[];
}

export type RuleNode = RuleGroup | EventCondition | TouchCondition;

/** A problem in a rule definition, with its JSON path (`rules.all[0].within`). */
export interface RuleError {
  field: string;
  message: string;
}

export type ParseResult = { ok: true; rules: RuleGroup } | { ok: false; errors: RuleError[] };

const GROUP_KEYS = ['all', 'any', 'none'] as const;
const EVENT_KEYS = ['event', 'within', 'where'];
const TOUCH_KEYS = ['touch', 'campaign_id', 'within'];
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class RuleParser {
  readonly errors: RuleError[] = [];

  private fail(field: string, message: string): null {
    this.errors.push({ field, message });
    return null;
  }

  private unknownKeys(raw: Record<string, unknown>, allowed: readonly string[], at: string) {
    for (const k of Object.keys(raw)) {
      if (!allowed.includes(k)) {
        this.fail(`${at}.${k}`, `unknown field "${k}"; allowed here: ${allowed.join(', ')}`);
      }
    }
  }

  private within(raw: unknown, at: string): number | null {
    if (typeof raw !== 'string') return this.fail(at, 'is required: a duration like 30m, 12h, 7d');
    const ms = parseDurationMs(raw);
    if (ms === null || ms <= 0) return this.fail(at, `"${raw}" is not a duration like 12h or 7d`);
    if (ms / 1000 > MAX_WITHIN_S) return this.fail(at, `is longer than ${MAX_WITHIN_S / 86_400}d`);
    return Math.ceil(ms / 1000);
  }

  private test(op: string, value: unknown, at: string): PropertyTest | null {
    switch (op) {
      case '>':
      case '>=':
      case '<':
      case '<=':
        if (typeof value !== 'number' || !Number.isFinite(value))
          return this.fail(at, `operator ${op} needs a number`);
        return { op, value };
      case '=':
      case '!=':
        if (!['string', 'number', 'boolean'].includes(typeof value))
          return this.fail(at, `operator ${op} needs a string, number or boolean`);
        return { op, value: value as string | number | boolean };
      case 'contains':
        if (typeof value !== 'string' && typeof value !== 'number')
          return this.fail(at, 'operator contains needs a string or number');
        return { op, value };
      case 'matches':
        if (typeof value !== 'string') return this.fail(at, 'operator matches needs a glob string');
        return { op, value };
      case 'in':
        if (
          !Array.isArray(value) ||
          value.length === 0 ||
          !value.every((v) => typeof v === 'string' || typeof v === 'number')
        )
          return this.fail(at, 'operator in needs a non-empty list of strings or numbers');
        return { op, value: value as Array<string | number> };
      default:
        return this.fail(at, `unknown operator "${op}"; known: ${WHERE_OPERATORS.join(', ')}`);
    }
  }

  private where(raw: unknown, at: string): EventCondition['where'] {
    if (raw === undefined) return [];
    if (!isObject(raw)) {
      this.fail(at, 'must be an object of property filters');
      return [];
    }
    const out: Array<{ field: string; tests: PropertyTest[] }> = [];
    for (const [field, spec] of Object.entries(raw)) {
      const fat = `${at}.${field}`;
      if (!FIELD_RE.test(field)) {
        this.fail(fat, 'is not a property name');
        continue;
      }
      const tests: PropertyTest[] = [];
      if (typeof spec === 'string') tests.push({ op: 'matches', value: spec });
      else if (typeof spec === 'number' || typeof spec === 'boolean')
        tests.push({ op: '=', value: spec });
      else if (isObject(spec) && Object.keys(spec).length > 0) {
        for (const [op, value] of Object.entries(spec)) {
          const t = this.test(op, value, `${fat}.${op}`);
          if (t) tests.push(t);
        }
      } else {
        this.fail(fat, 'must be a glob string, a number, or an object like { ">": 100 }');
        continue;
      }
      out.push({ field, tests });
    }
    return out;
  }

  node(raw: unknown, at: string, depth: number): RuleNode | null {
    if (!isObject(raw)) return this.fail(at, 'must be an object');
    if ('event' in raw) {
      this.unknownKeys(raw, EVENT_KEYS, at);
      const event = raw.event;
      if (typeof event !== 'string' || event.length === 0)
        this.fail(`${at}.event`, 'must be an event name');
      const within_s = this.within(raw.within, `${at}.within`);
      const where = this.where(raw.where, `${at}.where`);
      if (typeof event !== 'string' || within_s === null) return null;
      return { type: 'event', event, within_s, where };
    }
    if ('touch' in raw) {
      this.unknownKeys(raw, TOUCH_KEYS, at);
      const touch = raw.touch;
      if (touch !== 'impression' && touch !== 'click')
        this.fail(`${at}.touch`, 'must be "impression" or "click"');
      if (raw.campaign_id !== undefined && typeof raw.campaign_id !== 'string')
        this.fail(`${at}.campaign_id`, 'must be a string');
      const within_s = this.within(raw.within, `${at}.within`);
      if ((touch !== 'impression' && touch !== 'click') || within_s === null) return null;
      return {
        type: 'touch',
        touch,
        campaign_id: typeof raw.campaign_id === 'string' ? raw.campaign_id : null,
        within_s,
      };
    }
    if (GROUP_KEYS.some((k) => k in raw)) return this.group(raw, at, depth + 1);
    return this.fail(
      at,
      'must be a condition ({ event, within } or { touch, within }) or a group ({ all | any | none })',
    );
  }

  group(raw: unknown, at: string, depth: number): RuleGroup | null {
    if (!isObject(raw)) return this.fail(at, 'must be an object with all, any or none');
    if (depth > MAX_DEPTH) return this.fail(at, `groups nest deeper than ${MAX_DEPTH}`);
    this.unknownKeys(raw, GROUP_KEYS, at);
    if (!GROUP_KEYS.some((k) => k in raw))
      return this.fail(at, 'needs at least one of all, any, none');
    const parts: Record<(typeof GROUP_KEYS)[number], RuleNode[]> = { all: [], any: [], none: [] };
    for (const k of GROUP_KEYS) {
      const list = raw[k];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.length === 0) {
        this.fail(`${at}.${k}`, 'must be a non-empty list of conditions');
        continue;
      }
      list.forEach((item, i) => {
        const n = this.node(item, `${at}.${k}[${i}]`, depth);
        if (n) parts[k].push(n);
      });
    }
    return { type: 'group', ...parts };
  }
}

/**
 * Parses and validates audience rules (the JSON of `POST /api/audiences`), naming every
 * problem with its path: unknown fields, unknown operators, bad durations, empty groups.
 */
export function parseRules(raw: unknown): ParseResult {
  const p = new RuleParser();
  const rules = p.group(raw, 'rules', 1);
  if (p.errors.length > 0 || !rules) return { ok: false, errors: p.errors };
  return { ok: true, rules };
}

/** Back to the JSON form accepted by parseRules. */
export function rulesToJson(node: RuleNode): Record<string, unknown> {
  const dur = (s: number) =>
    s % 86_400 === 0
      ? `${s / 86_400}d`
      : s % 3600 === 0
        ? `${s / 3600}h`
        : s % 60 === 0
          ? `${s / 60}m`
          : `${s}s`;
  if (node.type === 'event') {
    const out: Record<string, unknown> = { event: node.event, within: dur(node.within_s) };
    if (node.where.length > 0)
      out.where = Object.fromEntries(
        node.where.map((w) => [w.field, Object.fromEntries(w.tests.map((t) => [t.op, t.value]))]),
      );
    return out;
  }
  if (node.type === 'touch') {
    return {
      touch: node.touch,
      ...(node.campaign_id !== null ? { campaign_id: node.campaign_id } : {}),
      within: dur(node.within_s),
    };
  }
  const out: Record<string, unknown> = {};
  for (const k of GROUP_KEYS) if (node[k].length > 0) out[k] = node[k].map(rulesToJson);
  return out;
}

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

/** Whether any condition looks at ad touches (else new touches cannot change membership). */
export function usesTouches(node: RuleNode): boolean {
  if (node.type !== 'group') return node.type === 'touch';
  return [...node.all, ...node.any, ...node.none].some(usesTouches);
}

/** The longest window any condition looks back, so callers read only the history needed. */
export function longestWindowS(node: RuleNode): number {
  if (node.type !== 'group') return node.within_s;
  return Math.max(0, ...[...node.all, ...node.any, ...node.none].map(longestWindowS));
}
