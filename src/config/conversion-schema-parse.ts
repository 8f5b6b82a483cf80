import { COARSE_VALUES } from '../domain/apple-postback.js';
import {
  type CoarseMap,
  type ConversionSchema,
  FINE_VALUES,
  type FineMatch,
  type FineRule,
  revenueOverlaps,
  type ValueMeaning,
} from '../domain/conversion-schema.js';
import { isCurrencyCode } from '../domain/money.js';
import { isObj, type Obj, type Reader } from './config-reader.js';

const MAX_FINE_RULES = 256;
const MAX_EVENT_NAME_CHARS = 128;
const SCHEMA_KEYS = new Set(['currency', 'fine', 'coarse', 'coarse_by_window']);
const RULE_KEYS = new Set([
  'value',
  'values',
  'bit',
  'mask',
  'equals',
  'event',
  'events',
  'revenue',
]);
const MEANING_KEYS = new Set(['event', 'events', 'revenue']);

/**
 * Reads an app's `conversion_values` (issue 25): fine rules (`value`, `values: [from, to]`,
 * `bit`, or `mask` + `equals`, each with `event`/`events` and/or `revenue: [min, max]`), the
 * coarse map, and coarse maps per conversion window. Every bad field is named by its path.
 */
export function parseConversionSchema(r: Reader, raw: unknown, path: string): ConversionSchema {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  unknownKeys(r, o, SCHEMA_KEYS, path);
  const currency = o.currency === undefined ? null : r.str(o, 'currency', `${path}.currency`);
  if (currency && !isCurrencyCode(currency))
    r.errors.push({ field: `${path}.currency`, message: 'must be an ISO 4217 code such as USD' });
  const rawFine = o.fine === undefined ? [] : o.fine;
  if (!Array.isArray(rawFine) || rawFine.length > MAX_FINE_RULES)
    r.errors.push({
      field: `${path}.fine`,
      message: `must be a list of at most ${MAX_FINE_RULES} rules`,
    });
  const fine = (Array.isArray(rawFine) ? rawFine.slice(0, MAX_FINE_RULES) : []).map((x, i) =>
    fineRule(r, x, `${path}.fine[${i}]`),
  );
  for (const o of revenueOverlaps(fine)) {
    r.errors.push({
      field: `${path}.fine`,
      message: `fine value ${o.value} falls in two revenue ranges (rules ${o.rules.join(' and ')})`,
    });
    break;
  }
  const coarse = coarseMap(r, o.coarse, `${path}.coarse`);
  const byWindow: Partial<Record<number, CoarseMap>> = {};
  if (o.coarse_by_window !== undefined) {
    const w = isObj(o.coarse_by_window) ? o.coarse_by_window : {};
    if (!isObj(o.coarse_by_window))
      r.errors.push({
        field: `${path}.coarse_by_window`,
        message: 'must map 0, 1, 2 to coarse maps',
      });
    for (const [k, v] of Object.entries(w)) {
      if (!['0', '1', '2'].includes(k))
        r.errors.push({ field: `${path}.coarse_by_window.${k}`, message: 'must be 0, 1 or 2' });
      else byWindow[Number(k)] = coarseMap(r, v, `${path}.coarse_by_window.${k}`);
    }
  }
  const schema = { currency, fine, coarse, coarse_by_window: byWindow };
  const anyRevenue =
    fine.some((f) => f.revenue) ||
    [coarse, ...Object.values(byWindow)].some((m) =>
      Object.values(m ?? {}).some((v) => v?.revenue),
    );
  if (anyRevenue && currency === null)
    r.errors.push({ field: `${path}.currency`, message: 'is required when a value means revenue' });
  return schema;
}

function unknownKeys(r: Reader, o: Obj, known: Set<string>, path: string): void {
  for (const k of Object.keys(o))
    if (!known.has(k)) r.errors.push({ field: `${path}.${k}`, message: 'is not a known field' });
}

const isWhole = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function fineMatch(r: Reader, o: Obj, path: string): FineMatch {
  const forms = ['value', 'values', 'bit', 'mask'].filter((k) => o[k] !== undefined);
  const bad = (field: string, message: string): FineMatch => {
    r.errors.push({ field: `${path}.${field}`, message });
    return { kind: 'range', from: 1, to: 0 };
  };
  if (forms.length !== 1) return bad('value', 'give exactly one of value, values, bit, mask');
  const top = FINE_VALUES - 1;
  if (o.value !== undefined)
    return isWhole(o.value, 0, top)
      ? { kind: 'range', from: o.value, to: o.value }
      : bad('value', `must be a whole number 0–${top}`);
  if (o.values !== undefined) {
    const v = o.values;
    return Array.isArray(v) && v.length === 2 && isWhole(v[0], 0, top) && isWhole(v[1], v[0], top)
      ? { kind: 'range', from: v[0], to: v[1] }
      : bad('values', `must be [from, to], whole numbers 0–${top}, from ≤ to`);
  }
  if (o.bit !== undefined)
    return isWhole(o.bit, 0, 5)
      ? { kind: 'bits', mask: 1 << o.bit, equals: 1 << o.bit }
      : bad('bit', 'must be a bit number 0–5');
  if (!isWhole(o.mask, 1, top)) return bad('mask', `must be a whole number 1–${top}`);
  const equals = o.equals ?? o.mask;
  if (!isWhole(equals, 0, top) || (equals & ~o.mask) !== 0)
    return bad('equals', 'must be a value whose bits are all inside mask');
  return { kind: 'bits', mask: o.mask, equals };
}

function meaning(r: Reader, o: Obj, path: string): ValueMeaning {
  const events: string[] = [];
  if (o.event !== undefined && o.events !== undefined)
    r.errors.push({ field: `${path}.events`, message: 'give event or events, not both' });
  const list = o.events ?? (o.event === undefined ? [] : [o.event]);
  const field = o.events === undefined ? 'event' : 'events';
  if (
    !Array.isArray(list) ||
    list.some((e) => typeof e !== 'string' || e === '' || e.length > MAX_EVENT_NAME_CHARS)
  )
    r.errors.push({
      field: `${path}.${field}`,
      message: 'must be event names (non-empty strings)',
    });
  else events.push(...(list as string[]));
  let revenue: ValueMeaning['revenue'] = null;
  if (o.revenue !== undefined) {
    const v = o.revenue;
    const ok =
      Array.isArray(v) &&
      v.length === 2 &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) &&
      v[0] <= v[1];
    if (ok) revenue = { min: v[0], max: v[1] };
    else r.errors.push({ field: `${path}.revenue`, message: 'must be [min, max], 0 ≤ min ≤ max' });
  }
  if (events.length === 0 && revenue === null && o.event === undefined && o.events === undefined)
    r.errors.push({ field: path, message: 'must say what it means: event, events or revenue' });
  return { events, revenue };
}

function fineRule(r: Reader, raw: unknown, path: string): FineRule {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  unknownKeys(r, o, RULE_KEYS, path);
  return { match: fineMatch(r, o, path), ...meaning(r, o, path) };
}

function coarseMap(r: Reader, raw: unknown, path: string): CoarseMap {
  if (raw === undefined) return {};
  if (!isObj(raw)) {
    r.errors.push({ field: path, message: 'must map low, medium, high to what they mean' });
    return {};
  }
  const out: CoarseMap = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(COARSE_VALUES as readonly string[]).includes(k)) {
      r.errors.push({ field: `${path}.${k}`, message: 'must be low, medium or high' });
      continue;
    }
    if (!isObj(v)) {
      r.errors.push({
        field: `${path}.${k}`,
        message: 'must be an object: {event, events, revenue}',
      });
      continue;
    }
    unknownKeys(r, v, MEANING_KEYS, `${path}.${k}`);
    out[k as keyof CoarseMap] = meaning(r, v, `${path}.${k}`);
  }
  return out;
}
