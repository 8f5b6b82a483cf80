import type { CoarseValue } from './apple-postback.js';

/**
 * An app's conversion-value schema (config `apps[i].conversion_values`, issue 25): what the
 * 6-bit fine value (0–63) and the coarse value (low, medium, high) its SDK sets mean, as
 * events and revenue ranges. Apple carries only the number back; this turns it into what
 * happened. A fine value may mean several events (one bit each) and at most one revenue
 * range. SKAdNetwork 4 and AdAttributionKit send a fine value only in the first postback
 * (and only in the highest data tier); the later ones carry the coarse value alone.
 * https://developer.apple.com/documentation/storekit/receiving-postbacks-in-multiple-conversion-windows
 */

/** Which fine values a rule covers: an inclusive range, or the values whose masked bits equal. */
export type FineMatch =
  | { kind: 'range'; from: number; to: number }
  | { kind: 'bits'; mask: number; equals: number };

/** A revenue range, in the schema's currency; min ≤ max. */
export interface RevenueRange {
  min: number;
  max: number;
}

/** What a value means: events (possibly none) and a revenue range (possibly none). */
export interface ValueMeaning {
  events: string[];
  revenue: RevenueRange | null;
}

export interface FineRule extends ValueMeaning {
  match: FineMatch;
}

export type CoarseMap = Partial<Record<CoarseValue, ValueMeaning>>;

export interface ConversionSchema {
  /** ISO 4217 currency of every revenue range; null when the schema gives no revenue. */
  currency: string | null;
  fine: FineRule[];
  /** The coarse values' meaning in every conversion window without its own map below. */
  coarse: CoarseMap;
  /** By postback sequence index (0, 1, 2): a coarse map that replaces `coarse` there. */
  coarse_by_window: Partial<Record<number, CoarseMap>>;
}

/** A postback decoded: its events, its revenue range, and which value said so. */
export interface DecodedValue extends ValueMeaning {
  /** `fine` or `coarse`: the value decoded; `none`: the postback carried no value. */
  source: 'fine' | 'coarse' | 'none';
  /** A value was present but the schema says nothing of it. */
  unmapped: boolean;
}

export const FINE_VALUES = 64;

export function fineMatches(m: FineMatch, value: number): boolean {
  return m.kind === 'range' ? value >= m.from && value <= m.to : (value & m.mask) === m.equals;
}

/**
 * For a schema being read: each fine value that more than one revenue rule covers, with
 * those rules' indexes (a value must mean one revenue range).
 */
export function revenueOverlaps(fine: readonly FineRule[]): { value: number; rules: number[] }[] {
  const out: { value: number; rules: number[] }[] = [];
  for (let v = 0; v < FINE_VALUES; v++) {
    const rules = fine.flatMap((r, i) => (r.revenue && fineMatches(r.match, v) ? [i] : []));
    if (rules.length > 1) out.push({ value: v, rules });
  }
  return out;
}

/** What one postback's values mean under a schema (null schema: nothing is decoded). */
export function decodeValue(
  schema: ConversionSchema | null,
  p: { fine_value: number | null; coarse_value: CoarseValue | null; sequence_index: number },
): DecodedValue {
  if (p.fine_value !== null) {
    const rules = (schema?.fine ?? []).filter((r) => fineMatches(r.match, p.fine_value ?? 0));
    return {
      source: 'fine',
      events: [...new Set(rules.flatMap((r) => r.events))],
      revenue: rules.find((r) => r.revenue)?.revenue ?? null,
      unmapped: rules.length === 0,
    };
  }
  if (p.coarse_value !== null) {
    const map = schema?.coarse_by_window[p.sequence_index] ?? schema?.coarse ?? {};
    const meaning = map[p.coarse_value];
    return {
      source: 'coarse',
      events: meaning?.events ?? [],
      revenue: meaning?.revenue ?? null,
      unmapped: meaning === undefined,
    };
  }
  return { source: 'none', events: [], revenue: null, unmapped: false };
}
