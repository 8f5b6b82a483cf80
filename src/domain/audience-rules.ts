import {
  type EventCondition,
  type ParseResult,
  type PropertyTest,
  type RuleError,
  type RuleGroup,
  type RuleNode,
  WHERE_OPERATORS,
} from './audience-rule-types.js';
import { parseDurationMs } from './duration.js';

/** Longest window a condition may look back: touches are kept 90 days (DESIGN §6). */
export const MAX_WITHIN_S = 400 * 86_400;
/** Deepest nesting of groups, to keep evaluation and error paths readable. */
const MAX_DEPTH = 8;

// Parsed shapes and evaluation live beside this file; importers keep this path.
export * from './audience-evaluate.js';
export * from './audience-rule-types.js';

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
