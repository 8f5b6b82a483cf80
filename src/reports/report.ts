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

/** What a report asks for. Times are Unix seconds; `to_s` is exclusive. Days are UTC. */
export interface ReportQuery {
  env_id: string;
  from_s: number;
  to_s: number;
  group_by: ReportGroup;
  dest_id?: string;
  campaign_id?: string;
}

/** Raw counts of one group, as the store adds them up. */
export interface ReportCounts {
  /** `YYYY-MM-DD` for days; the campaign, creative or destination id; `''` for none/total. */
  key: string;
  impressions: number;
  clicks: number;
  /** Distinct attributed conversions (a purchase sent to two destinations counts once). */
  conversions: number;
  view_conversions: number;
  click_conversions: number;
  /**
   * Attributed conversions split by the class of the match (issue 19): deterministic when any
   * destination credited a touch by a person's or device's own id, else probabilistic.
   */
  deterministic_conversions: number;
  probabilistic_conversions: number;
  /** Conversions no destination could credit to a touch (days and destinations only). */
  unattributed: number;
  /** Sum of the attributed conversions' values, as sent (one currency per environment). */
  revenue: number;
  /** Spend entered for the campaigns of this group and range; null when none was entered. */
  cost: number | null;
}

/** One report row: the counts plus the ratios derived from them. */
export interface ReportRow extends ReportCounts {
  /** Click-through conversions per click. */
  click_conversion_rate: number | null;
  /** View-through conversions per impression. */
  view_conversion_rate: number | null;
  /** Cost per (attributed) conversion. */
  cpa: number | null;
  /** Revenue per unit of cost. */
  roas: number | null;
}

export interface Report {
  env_id: string;
  from: string;
  to: string;
  group_by: ReportGroup;
  rows: ReportRow[];
  totals: ReportRow;
  /** With any grouping but `day`: the same range by day, for a chart. */
  days?: ReportRow[];
}

const ratio = (a: number, b: number | null): number | null =>
  b === null || b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;

/** Adds the derived ratios to raw counts. */
export function reportRow(c: ReportCounts): ReportRow {
  return {
    ...c,
    revenue: Math.round(c.revenue * 100) / 100,
    click_conversion_rate: ratio(c.click_conversions, c.clicks),
    view_conversion_rate: ratio(c.view_conversions, c.impressions),
    cpa: c.cost === null ? null : ratio(c.cost, c.conversions),
    roas: ratio(c.revenue, c.cost),
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
    revenue: 0,
    cost: null,
  };
}

/**
 * The report of a query from the store's counts: a day report has every day of the range
 * (zeros included, so a chart has no gaps); other groups are sorted by conversions, then key.
 */
export function buildReport(
  q: ReportQuery,
  groups: ReportCounts[],
  total: ReportCounts | undefined,
): Report {
  let rows = groups;
  if (q.group_by === 'day') {
    const byKey = new Map(groups.map((g) => [g.key, g]));
    rows = [];
    for (let d = Math.floor(q.from_s / DAY_S); d * DAY_S < q.to_s; d++) {
      rows.push(byKey.get(dayKey(d)) ?? emptyCounts(dayKey(d)));
    }
  } else {
    rows = [...groups].sort((a, b) => b.conversions - a.conversions || a.key.localeCompare(b.key));
  }
  return {
    env_id: q.env_id,
    from: new Date(q.from_s * 1000).toISOString(),
    to: new Date(q.to_s * 1000).toISOString(),
    group_by: q.group_by,
    rows: rows.map(reportRow),
    totals: reportRow(total ?? emptyCounts('')),
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
];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // RFC 4180 quoting; a leading = + - @ is neutralised so a spreadsheet does not run it.
  const safe = /^[=+\-@]/.test(s) && Number.isNaN(Number(s)) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The report as CSV: a header naming the group, one line per row, then the totals. */
export function reportCsv(r: Report): string {
  const header = [r.group_by, ...CSV_COLUMNS.slice(1)].join(',');
  const line = (row: ReportRow) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(',');
  const lines = [header, ...r.rows.map(line), line({ ...r.totals, key: 'total' })];
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The total of groups that split the range without overlap (days: each conversion has one
 * event time), so the total needs no query of its own.
 */
export function sumCounts(groups: readonly ReportCounts[]): ReportCounts {
  const t = emptyCounts('');
  for (const g of groups) {
    t.impressions += g.impressions;
    t.clicks += g.clicks;
    t.conversions += g.conversions;
    t.view_conversions += g.view_conversions;
    t.click_conversions += g.click_conversions;
    t.deterministic_conversions += g.deterministic_conversions;
    t.probabilistic_conversions += g.probabilistic_conversions;
    t.unattributed += g.unattributed;
    t.revenue += g.revenue;
    if (g.cost !== null) t.cost = (t.cost ?? 0) + g.cost;
  }
  return t;
}
