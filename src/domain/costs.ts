import { csvRecords } from './csv-records.js';
import { calendarDay } from './fx-rates.js';
import { isCurrencyCode } from './money.js';
import type { FieldError } from './validation-error.js';

/**
 * Imported daily costs (issue 23 §2): what a campaign cost on one UTC day, in one currency,
 * with the channel, source and medium it bought and the impressions and clicks it paid for
 * when the file says. The CSV is `date,campaign_id,cost,currency` plus any of `channel`,
 * `source`, `medium`, `impressions`, `clicks` (as ad platforms export them, and GA4's cost
 * data import asks: https://support.google.com/analytics/answer/10071305).
 */
export interface CostRow {
  /** UTC day, Unix days. */
  day: number;
  campaign_id: string;
  /** '' when the import names none. */
  channel: string;
  cost: number;
  currency: string;
  source: string | null;
  medium: string | null;
  impressions: number | null;
  clicks: number | null;
}

/** Rows one import may hold: two years of 100 campaigns a day, with room to spare. */
export const MAX_COST_ROWS = 100_000;
const MAX_TEXT_CHARS = 256;
const REQUIRED = ['date', 'campaign_id', 'cost', 'currency'] as const;
const OPTIONAL = ['channel', 'source', 'medium', 'impressions', 'clicks'] as const;
const COLUMNS = [...REQUIRED, ...OPTIONAL];

/** A refused row, named by its place (0-based index of data rows; CSV: its 1-based line). */
export interface CostRowError extends FieldError {
  index: number;
  line?: number;
}

function text(v: unknown): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' ? v.trim() : '';
}

function count(v: unknown, field: string, errors: FieldError[]): number | null {
  const t = text(v);
  if (t === '') return null;
  const n = Number(t);
  if (!/^\d{1,15}$/.test(t) || !Number.isSafeInteger(n)) {
    errors.push({ field, message: 'must be a whole number, 0 or more' });
    return null;
  }
  return n;
}

/** One cost row checked: every bad field named, or the row. */
export function checkCostRow(
  raw: unknown,
): { ok: true; row: CostRow } | { ok: false; errors: FieldError[] } {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, errors: [{ field: '', message: 'must be an object' }] };
  const day = calendarDay(text(o.date));
  if (day === null) errors.push({ field: 'date', message: 'must be a date YYYY-MM-DD' });
  const campaign = text(o.campaign_id);
  if (campaign === '' || campaign.length > MAX_TEXT_CHARS || campaign.includes('\u0000'))
    errors.push({ field: 'campaign_id', message: `must be 1-${MAX_TEXT_CHARS} characters` });
  const costText = text(o.cost);
  const cost = costText === '' ? Number.NaN : Number(costText);
  if (!Number.isFinite(cost) || cost < 0 || !/^\d*\.?\d+$|^\d+\.$/.test(costText))
    errors.push({ field: 'cost', message: 'must be a number, 0 or more (a point for decimals)' });
  const currency = text(o.currency).toUpperCase();
  if (!isCurrencyCode(currency))
    errors.push({ field: 'currency', message: 'must be an ISO 4217 currency code such as EUR' });
  const opt: Record<string, string> = {};
  for (const f of ['channel', 'source', 'medium'] as const) {
    const t = text(o[f]);
    if (t.length > MAX_TEXT_CHARS || t.includes('\u0000'))
      errors.push({ field: f, message: `must be at most ${MAX_TEXT_CHARS} characters` });
    opt[f] = t;
  }
  const impressions = count(o.impressions, 'impressions', errors);
  const clicks = count(o.clicks, 'clicks', errors);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    row: {
      day: day as number,
      campaign_id: campaign,
      channel: opt.channel ?? '',
      cost,
      currency,
      source: opt.source || null,
      medium: opt.medium || null,
      impressions,
      clicks,
    },
  };
}

/** What an import keeps: its good rows, merged per key, and each bad row by place. */
export interface CostImport {
  rows: CostRow[];
  errors: CostRowError[];
}

/**
 * The good rows of an import, one per (campaign, channel, day): lines of one key in one file
 * add up (a file split by ad group or country), in one currency; a line of the same key in
 * another currency is refused, named.
 */
export function mergeCostRows(
  checked: ReadonlyArray<{ index: number; line?: number; row: CostRow }>,
  errors: CostRowError[],
): CostRow[] {
  const byKey = new Map<string, CostRow>();
  for (const { index, line, row } of checked) {
    // Neither campaign nor channel holds a NUL (checkCostRow): the key is unambiguous.
    const key = `${row.campaign_id}\u0000${row.channel}\u0000${row.day}`;
    const had = byKey.get(key);
    if (!had) {
      byKey.set(key, { ...row });
      continue;
    }
    if (had.currency !== row.currency) {
      errors.push({
        index,
        ...(line ? { line } : {}),
        field: 'currency',
        message: `${row.campaign_id} on that day is already in ${had.currency} in this import`,
      });
      continue;
    }
    had.cost += row.cost;
    if (row.impressions !== null) had.impressions = (had.impressions ?? 0) + row.impressions;
    if (row.clicks !== null) had.clicks = (had.clicks ?? 0) + row.clicks;
  }
  return [...byKey.values()];
}

/** The rows of a JSON import `{costs: [...]}` (or a bare list), each bad one by index. */
export function costsFromJson(body: unknown): CostImport | { unusable: FieldError[] } {
  const list = Array.isArray(body) ? body : (body as { costs?: unknown } | null)?.costs;
  if (!Array.isArray(list))
    return { unusable: [{ field: 'costs', message: 'must be a list of cost rows' }] };
  if (list.length > MAX_COST_ROWS)
    return { unusable: [{ field: 'costs', message: `must hold at most ${MAX_COST_ROWS} rows` }] };
  const errors: CostRowError[] = [];
  const good: Array<{ index: number; row: CostRow }> = [];
  list.forEach((raw, index) => {
    const c = checkCostRow(raw);
    if (c.ok) good.push({ index, row: c.row });
    else
      for (const e of c.errors)
        errors.push({
          index,
          field: `costs[${index}]${e.field ? `.${e.field}` : ''}`,
          message: e.message,
        });
  });
  return { rows: mergeCostRows(good, errors), errors };
}

/**
 * The rows of a CSV import: a header naming the columns (any order, any case; others
 * ignored), then one cost a line. Every bad line is named by line and field; the good ones
 * are kept. Unusable as a whole (no header, a required column missing, too many lines).
 */
export function costsFromCsv(csv: string): CostImport | { unusable: FieldError[] } {
  // The header, the rows allowed and one more, to know there are too many.
  const records = csvRecords(csv, MAX_COST_ROWS + 2);
  const header = records[0];
  if (!header) return { unusable: [{ field: 'body', message: 'the CSV is empty' }] };
  if (!('cells' in header)) return { unusable: [{ field: 'header', message: header.error }] };
  const names = header.cells.map((c) => c.trim().toLowerCase());
  const missing = REQUIRED.filter((c) => !names.includes(c));
  if (missing.length > 0)
    return {
      unusable: [
        {
          field: 'header',
          message: `must name the columns ${REQUIRED.join(',')} (missing ${missing.join(', ')}); optional: ${OPTIONAL.join(', ')}`,
        },
      ],
    };
  if (records.length - 1 > MAX_COST_ROWS)
    return { unusable: [{ field: 'body', message: `at most ${MAX_COST_ROWS} lines per import` }] };
  const at = COLUMNS.map((c) => names.indexOf(c));
  const errors: CostRowError[] = [];
  const good: Array<{ index: number; line: number; row: CostRow }> = [];
  records.slice(1).forEach((r, index) => {
    if (!('cells' in r)) {
      errors.push({ index, line: r.line, field: 'line', message: r.error });
      return;
    }
    const raw: Record<string, string> = {};
    for (let i = 0; i < COLUMNS.length; i++) {
      const col = at[i] as number;
      raw[COLUMNS[i] as string] = col >= 0 ? (r.cells[col] ?? '') : '';
    }
    const c = checkCostRow(raw);
    if (c.ok) good.push({ index, line: r.line, row: c.row });
    else for (const e of c.errors) errors.push({ index, line: r.line, ...e });
  });
  return { rows: mergeCostRows(good, errors), errors };
}
