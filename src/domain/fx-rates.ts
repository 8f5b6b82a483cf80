import { isCurrencyCode } from './money.js';
import type { FieldError } from './validation-error.js';

const DAY_MS = 86_400_000;
const DATE_PARTS = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** A rate as text (CSV): plain decimal or exponent notation, nothing else. */
const RATE_TEXT_RE = /^\d+(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * An exchange rate the operator gave: 1 `from` is worth `rate` `to`, in force from the UTC
 * day `date` until the pair's next dated rate.
 */
export interface FxRate {
  date: string;
  from: string;
  to: string;
  rate: number;
}

/** The UTC day number (Unix days) of a `YYYY-MM-DD` date. */
export function dayOfDate(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

/**
 * The UTC day number of a `YYYY-MM-DD` date that exists (not 2026-02-30), else null. By
 * arithmetic (Howard Hinnant's days_from_civil, the proleptic Gregorian calendar as Date
 * reads it): an import checks one date a line, and a Date parsed and printed back cost it
 * a microsecond or more each.
 */
export function calendarDay(date: string): number | null {
  const m = DATE_PARTS.exec(date);
  if (!m) return null;
  const y = Number(m[1]);
  const month = Number(m[2]);
  const d = Number(m[3]);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const last = month === 2 && leap ? 29 : (MONTH_DAYS[month - 1] ?? 0);
  if (d < 1 || d > last) return null;
  const yy = month <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + d - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** `YYYY-MM-DD` of a Unix day number. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

function currencyField(v: unknown, field: string, errors: FieldError[]): string {
  const code = typeof v === 'string' ? v.trim().toUpperCase() : '';
  if (!isCurrencyCode(code))
    errors.push({ field, message: 'must be an ISO 4217 currency code such as EUR' });
  return code;
}

/**
 * Checks one rate as the config file, the admin API or a CSV line gives it (the rate may
 * be text, from CSV). Currency codes are upper-cased; every bad field is named.
 */
export function checkFxRate(
  raw: unknown,
): { ok: true; rate: FxRate } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  if (o !== raw) return { ok: false, errors: [{ field: '', message: 'must be an object' }] };
  const date = typeof o.date === 'string' ? o.date.trim() : '';
  if (calendarDay(date) === null)
    errors.push({ field: 'date', message: 'must be a date like 2026-11-01' });
  const from = currencyField(o.from, 'from', errors);
  const to = currencyField(o.to, 'to', errors);
  if (from && from === to) errors.push({ field: 'to', message: 'must differ from from' });
  const text = typeof o.rate === 'string' ? o.rate.trim() : null;
  const rate = text === null ? o.rate : RATE_TEXT_RE.test(text) ? Number(text) : Number.NaN;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)
    errors.push({ field: 'rate', message: 'must be a number above 0 (1 from = rate to)' });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, rate: { date, from, to, rate: rate as number } };
}

interface Dated {
  day: number;
  rate: number;
}

/** How an amount was converted: the rate used and the day the rate (or older leg) dates from. */
export interface AppliedRate {
  rate: number;
  since_day: number;
}

/**
 * The rates of a report, by pair. A conversion on day D uses the rate in force on D: the
 * newest rate dated D or before. A pair given the other way round is used inverted (the newer
 * of the two wins, the one given directly on a tie); a pair given neither way goes through
 * one common currency (ECB-style tables give every rate against EUR). A rate dated after D is
 * never used for D.
 */
export class FxTable {
  private readonly pairs = new Map<string, Dated[]>();
  private readonly neighbours = new Map<string, Set<string>>();
  private readonly memo = new Map<string, AppliedRate | null>();

  constructor(rates: readonly FxRate[]) {
    for (const r of rates) {
      const key = `${r.from}>${r.to}`;
      let list = this.pairs.get(key);
      if (!list) {
        list = [];
        this.pairs.set(key, list);
      }
      list.push({ day: dayOfDate(r.date), rate: r.rate });
      for (const [a, b] of [
        [r.from, r.to],
        [r.to, r.from],
      ]) {
        const set = this.neighbours.get(a) ?? new Set<string>();
        set.add(b);
        this.neighbours.set(a, set);
      }
    }
    for (const list of this.pairs.values()) list.sort((a, b) => a.day - b.day);
  }

  /** The rate of `from` into `to` in force on `day`, or null when none is. */
  rateOn(from: string, to: string, day: number): AppliedRate | null {
    if (from === to) return { rate: 1, since_day: day };
    const key = `${from}>${to}@${day}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const found = this.pairRate(from, to, day) ?? this.crossRate(from, to, day);
    this.memo.set(key, found);
    return found;
  }

  /** Newest entry of a pair on or before `day` (binary search). */
  private latest(from: string, to: string, day: number): Dated | null {
    const list = this.pairs.get(`${from}>${to}`);
    if (!list) return null;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as Dated).day <= day) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? null : (list[lo - 1] as Dated);
  }

  private pairRate(from: string, to: string, day: number): AppliedRate | null {
    const direct = this.latest(from, to, day);
    const inverse = this.latest(to, from, day);
    if (direct && (!inverse || direct.day >= inverse.day))
      return { rate: direct.rate, since_day: direct.day };
    return inverse ? { rate: 1 / inverse.rate, since_day: inverse.day } : null;
  }

  /** Through one common currency: the pair whose older leg is newest, then by code. */
  private crossRate(from: string, to: string, day: number): AppliedRate | null {
    let best: AppliedRate | null = null;
    const via = [...(this.neighbours.get(from) ?? [])].sort();
    for (const x of via) {
      if (x === to) continue;
      const a = this.pairRate(from, x, day);
      const b = a && this.pairRate(x, to, day);
      if (!a || !b) continue;
      const since_day = Math.min(a.since_day, b.since_day);
      if (!best || since_day > best.since_day) best = { rate: a.rate * b.rate, since_day };
    }
    return best;
  }
}

/**
 * The rates in force: those of the config file, with a saved rate (admin API) replacing
 * the file's for the same pair and date.
 */
export function mergeFxRates(fromFile: readonly FxRate[], saved: readonly FxRate[]): FxRate[] {
  const byKey = new Map<string, FxRate>();
  for (const r of [...fromFile, ...saved]) byKey.set(`${r.from}>${r.to}@${r.date}`, r);
  return [...byKey.values()];
}
