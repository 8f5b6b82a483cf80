import { type MoneyByCurrency, moneyText } from './money.js';
import { type MoneyRatios, moneyRatios } from './money-ratios.js';
import type { UsedRate } from './rates-used.js';
import type { SkanSection } from './skan-report.js';

/** How a report groups its rows. `total` is one row over the whole range. */
export type ReportGroup = 'day' | 'campaign' | 'creative' | 'destination' | 'total';

export const REPORT_GROUPS: readonly ReportGroup[] = [
  'day',
  'campaign',
  'creative',
  'destination',
  'total',
];

/** Longest range a report covers, in days: a year, plus one for a partial day. */
export const MAX_REPORT_DAYS = 367;
export const DAY_S = 86_400;

/**
 * Whose credit a report counts (DESIGN §6). `platform`: each destination's own credit, what
 * each ad platform will claim, so one purchase credited by two destinations counts twice.
 * `deduplicated`: each conversion once, credited to the touch that wins across all
 * destinations by the same rules. The gap between the two is the over-counting.
 */
export type ReportView = 'platform' | 'deduplicated';

export const REPORT_VIEWS: readonly ReportView[] = ['deduplicated', 'platform'];

/** What a report asks for. Times are Unix seconds; `to_s` is exclusive. Days are UTC. */
export interface ReportQuery {
  env_id: string;
  from_s: number;
  to_s: number;
  group_by: ReportGroup;
  view: ReportView;
  dest_id?: string;
  campaign_id?: string;
  /** Currency of spend entered without one (the environment's reporting currency). */
  spend_currency?: string;
}

/** An amount in one currency on one UTC day (Unix days), before any conversion. */
export interface DayAmount {
  currency: string;
  day: number;
  amount: number;
  /** How many conversions or cost rows the amount adds up (1 when left out). */
  count?: number;
}

/** Raw counts of one group, as the store adds them up. */
export interface ReportCounts {
  /** `YYYY-MM-DD` for days; the campaign, creative or destination id; `''` for none/total. */
  key: string;
  impressions: number;
  clicks: number;
  /** Attributed conversions: credits (platform view) or conversions (deduplicated view). */
  conversions: number;
  view_conversions: number;
  click_conversions: number;
  /**
   * Attributed conversions split by the class of the match (issue 19): deterministic when
   * the credited touch was found by a person's or device's own id, else probabilistic.
   */
  deterministic_conversions: number;
  probabilistic_conversions: number;
  /**
   * Conversions left uncredited: per destination that could not credit them (platform
   * view), or once each when no destination could (deduplicated view). By campaign, creative
   * or destination they are in the `''` row.
   */
  unattributed: number;
  /** Values of the attributed conversions, by currency and day (`XXX`: sent without one). */
  revenue: DayAmount[];
  /** Spend entered for the campaigns of this group, by currency and day; empty: none. */
  cost: DayAmount[];
}

/** Money of a row: converted into the report's currency, and as it was, per currency. */
export interface RowMoney {
  /**
   * Revenue in the report's `currency` (amounts converted with the rate of their day); null
   * when the report names no currency and this row has revenue.
   */
  revenue: number | null;
  /** Revenue as sent, per currency: never summed across currencies. */
  revenue_by_currency: MoneyByCurrency;
  /** Revenue left out of `revenue`, per currency: no rate was in force on its day. */
  unconverted_revenue: MoneyByCurrency;
  /** How many conversions brought the revenue in `unconverted_revenue`. */
  unconverted_conversions: number;
  /** Spend in the report's currency; null when none was entered (or it could not convert). */
  cost: number | null;
  cost_by_currency: MoneyByCurrency;
  unconverted_cost: MoneyByCurrency;
  /** How many cost rows (a campaign's spend of a day) brought `unconverted_cost`. */
  unconverted_cost_rows: number;
}

/**
 * One report row: the counts, the money and the ratios derived from them. `cpa` (cost per
 * attributed conversion) and `roas` (revenue per unit of cost, both in the report's currency)
 * are null when part of the money they divide could not be converted, `ratio_note` saying what.
 */
export interface ReportRow extends Omit<ReportCounts, 'revenue' | 'cost'>, RowMoney, MoneyRatios {
  /** Click-through conversions per click. */
  click_conversion_rate: number | null;
  /** View-through conversions per impression. */
  view_conversion_rate: number | null;
}

/** The conversion figures of one view over the whole report. */
export interface ViewTotals {
  conversions: number;
  view_conversions: number;
  click_conversions: number;
  unattributed: number;
  revenue: number | null;
  revenue_by_currency: MoneyByCurrency;
}

/** Money that could not be converted, per currency, and why. */
export interface Unconverted {
  currency: string;
  revenue: number;
  cost: number;
  /** First and last UTC day with such money. */
  from: string;
  to: string;
  reason: string;
}

export interface Report {
  env_id: string;
  from: string;
  to: string;
  group_by: ReportGroup;
  /** The view `rows`, `totals` and `days` count. */
  view: ReportView;
  /** The currency `revenue` and `cost` are in; null when none could be named. */
  currency: string | null;
  rows: ReportRow[];
  /** The sums of `rows`, every figure (ratios derived from the sums). */
  totals: ReportRow;
  /** With any grouping but `day`: the same range by day, for a chart. */
  days?: ReportRow[];
  /**
   * Both views side by side, and the over-counting across platforms: platform credits minus
   * deduplicated conversions, and their revenue.
   */
  views: {
    platform: ViewTotals;
    deduplicated: ViewTotals;
    overcount: Pick<ViewTotals, 'conversions' | 'revenue' | 'revenue_by_currency'>;
  };
  /**
   * The dated rates `revenue` and `cost` were converted with (from the report's money in any
   * currency but its own), each with the days it converted.
   */
  rates: UsedRate[];
  /** Money left out of `revenue` and `cost`, per currency. */
  unconverted: Unconverted[];
  /** What a reader must know to read the figures (why a column is empty, what is left out). */
  notes: string[];
  /**
   * Apple's SKAdNetwork / AdAttributionKit postbacks by campaign, when the environment has iOS
   * apps: a separate source, never part of `rows`, `totals` or `views` (skan-report.ts).
   */
  skan?: SkanSection;
}

const ratio = (a: number | null, b: number | null): number | null =>
  a === null || b === null || b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;

/** Adds the derived ratios to counts and their money (in the report's `currency`). */
export function reportRow(
  c: Omit<ReportCounts, 'revenue' | 'cost'>,
  money: RowMoney,
  currency: string | null,
): ReportRow {
  return {
    key: c.key,
    impressions: c.impressions,
    clicks: c.clicks,
    conversions: c.conversions,
    view_conversions: c.view_conversions,
    click_conversions: c.click_conversions,
    deterministic_conversions: c.deterministic_conversions,
    probabilistic_conversions: c.probabilistic_conversions,
    unattributed: c.unattributed,
    ...money,
    click_conversion_rate: ratio(c.click_conversions, c.clicks),
    view_conversion_rate: ratio(c.view_conversions, c.impressions),
    ...moneyRatios({ ...money, currency, conversions: c.conversions }),
  };
}

/** `YYYY-MM-DD` of a Unix day number. */
export function dayKey(day: number): string {
  return new Date(day * DAY_S * 1000).toISOString().slice(0, 10);
}

/** Counts of a group with nothing in it. */
export function emptyCounts(key: string): ReportCounts {
  return {
    key,
    impressions: 0,
    clicks: 0,
    conversions: 0,
    view_conversions: 0,
    click_conversions: 0,
    deterministic_conversions: 0,
    probabilistic_conversions: 0,
    unattributed: 0,
    revenue: [],
    cost: [],
  };
}

const CSV_COLUMNS: ReadonlyArray<keyof ReportRow> = [
  'key',
  'impressions',
  'clicks',
  'conversions',
  'view_conversions',
  'click_conversions',
  'unattributed',
  'click_conversion_rate',
  'view_conversion_rate',
  'revenue',
  'cost',
  'cpa',
  'roas',
  // Added later: at the end, so spreadsheets reading columns by position keep working.
  'deterministic_conversions',
  'probabilistic_conversions',
  'revenue_by_currency',
  'unconverted_revenue',
  'cost_by_currency',
  'unconverted_cost',
  'unconverted_conversions',
  'unconverted_cost_rows',
  'ratio_note',
];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // RFC 4180 quoting. A cell a spreadsheet would run as a formula is neutralised with a
  // leading ': one starting with = + - @ (unless it is a plain number), TAB or CR (OWASP,
  // CSV Injection); Number() would read "\t5" as 5, so TAB and CR are never let through.
  const formula = /^[\t\r]/.test(s) || (/^[=+\-@]/.test(s) && Number.isNaN(Number(s)));
  const safe = formula ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * The report as CSV: a header naming the group, one line per row, then the totals. Revenue
 * and cost are in the report's currency; the last columns keep the money per currency.
 */
export function reportCsv(r: Report): string {
  const header = [r.group_by, ...CSV_COLUMNS.slice(1)].join(',');
  const line = (row: ReportRow) =>
    CSV_COLUMNS.map((c) => {
      const v = row[c];
      return csvCell(typeof v === 'object' && v !== null ? moneyText(v) : v);
    }).join(',');
  const lines = [header, ...r.rows.map(line), line({ ...r.totals, key: 'total' })];
  return `${lines.join('\r\n')}\r\n`;
}
