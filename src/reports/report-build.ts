import {
  type MoneyByCurrency,
  NO_CURRENCY,
  roundMoney,
  subtractMoney,
  sumMoney,
} from '../domain/money.js';
import { RATIO_NOTE } from '../domain/money-ratios.js';
import {
  DAY_S,
  dayKey,
  emptyCounts,
  type Report,
  type ReportCounts,
  type ReportQuery,
  type ReportRow,
  type ReportView,
  reportRow,
  type ViewTotals,
} from '../domain/report.js';
import type { ReportMoney } from './report-money.js';

/** What the store counted for one report. */
export interface ReportInput {
  q: ReportQuery;
  /** The groups of `q`. */
  groups: readonly ReportCounts[];
  /** The same query by day (the groups themselves for a day report). */
  days: readonly ReportCounts[];
  /** The other view's counts over the whole range (`group_by: total`). */
  other: ReportCounts | undefined;
  money: ReportMoney;
}

const sumOrNull = (rows: readonly ReportRow[], pick: (r: ReportRow) => number | null) =>
  rows.reduce<number | null>((t, r) => {
    const v = pick(r);
    return v === null ? t : (t ?? 0) + v;
  }, null);

/**
 * The totals of rows: every figure is the sum of the rows' (money per currency, and in the
 * report's currency: the sum of the rows' converted figures). A row whose revenue could not
 * be named makes the total's unnamed too.
 */
export function sumRows(rows: readonly ReportRow[], currency: string | null): ReportRow {
  const t = emptyCounts('');
  let revenue_by_currency: MoneyByCurrency = {};
  let unconverted_revenue: MoneyByCurrency = {};
  let cost_by_currency: MoneyByCurrency = {};
  let unconverted_cost: MoneyByCurrency = {};
  let unconverted_conversions = 0;
  let unconverted_cost_rows = 0;
  for (const r of rows) {
    t.impressions += r.impressions;
    t.clicks += r.clicks;
    t.conversions += r.conversions;
    t.view_conversions += r.view_conversions;
    t.click_conversions += r.click_conversions;
    t.deterministic_conversions += r.deterministic_conversions;
    t.probabilistic_conversions += r.probabilistic_conversions;
    t.unattributed += r.unattributed;
    revenue_by_currency = sumMoney(revenue_by_currency, r.revenue_by_currency);
    unconverted_revenue = sumMoney(unconverted_revenue, r.unconverted_revenue);
    cost_by_currency = sumMoney(cost_by_currency, r.cost_by_currency);
    unconverted_cost = sumMoney(unconverted_cost, r.unconverted_cost);
    unconverted_conversions += r.unconverted_conversions;
    unconverted_cost_rows += r.unconverted_cost_rows;
  }
  const round = (v: number | null) => (v === null ? null : roundMoney(v, currency ?? NO_CURRENCY));
  const unnamed = rows.some((r) => r.revenue === null);
  return reportRow(
    t,
    {
      revenue: unnamed ? null : (round(sumOrNull(rows, (r) => r.revenue)) ?? 0),
      revenue_by_currency,
      unconverted_revenue,
      unconverted_conversions,
      cost: round(sumOrNull(rows, (r) => r.cost)),
      cost_by_currency,
      unconverted_cost,
      unconverted_cost_rows,
    },
    currency,
  );
}

function rowsOf(input: ReportInput, groups: readonly ReportCounts[], byDay: boolean): ReportRow[] {
  const { q, money } = input;
  let counts = [...groups];
  if (byDay) {
    const byKey = new Map(groups.map((g) => [g.key, g]));
    counts = [];
    for (let d = Math.floor(q.from_s / DAY_S); d * DAY_S < q.to_s; d++)
      counts.push(byKey.get(dayKey(d)) ?? emptyCounts(dayKey(d)));
  } else {
    counts.sort((a, b) => b.conversions - a.conversions || a.key.localeCompare(b.key));
  }
  return counts.map((c) => reportRow(c, money.row(c.revenue, c.cost), money.currency));
}

function viewTotals(r: ReportRow): ViewTotals {
  return {
    conversions: r.conversions,
    view_conversions: r.view_conversions,
    click_conversions: r.click_conversions,
    unattributed: r.unattributed,
    revenue: r.revenue,
    revenue_by_currency: r.revenue_by_currency,
  };
}

/** Why a figure is empty or what it leaves out, in the reader's words. */
function notesOf(q: ReportQuery, totals: ReportRow, rows: readonly ReportRow[]): string[] {
  const notes: string[] = [];
  if (q.view === 'platform')
    notes.push(
      'platform view: a conversion credited by several destinations counts once for each; ' +
        'unattributed counts each destination that could not credit a conversion',
    );
  if (q.group_by === 'creative' || q.group_by === 'destination')
    notes.push(
      `cost: spend is entered per campaign and day, so rows by ${q.group_by} have none; ` +
        'group by campaign or day for cost, cost per conversion and ROAS',
    );
  else if (q.dest_id)
    notes.push('cost: spend is not split by destination, so a report of one destination has none');
  if (Object.keys(totals.unconverted_revenue).length + Object.keys(totals.unconverted_cost).length)
    notes.push('revenue and cost leave out the money listed in unconverted (no rate for its day)');
  if ([totals, ...rows].some((r) => r.ratio_note !== null)) notes.push(RATIO_NOTE);
  return notes;
}

/**
 * The report of a query from the store's counts: a day report has every day of the range
 * (zeros included, so a chart has no gaps); other groups are sorted by conversions, then key.
 * Totals are the sums of the rows; `views` puts the other view's totals beside them.
 */
export function buildReport(input: ReportInput): Report {
  const { q, money } = input;
  const rows = rowsOf(input, input.groups, q.group_by === 'day');
  const totals = sumRows(rows, money.currency);
  const days = q.group_by === 'day' ? undefined : rowsOf(input, input.days, true);
  const otherRow = input.other ?? emptyCounts('');
  const other = viewTotals(reportRow(otherRow, money.row(otherRow.revenue, []), money.currency));
  const mine = viewTotals(totals);
  const byView: Record<ReportView, ViewTotals> =
    q.view === 'platform'
      ? { platform: mine, deduplicated: other }
      : { platform: other, deduplicated: mine };
  const p = byView.platform;
  const d = byView.deduplicated;
  return {
    env_id: q.env_id,
    from: new Date(q.from_s * 1000).toISOString(),
    to: new Date(q.to_s * 1000).toISOString(),
    group_by: q.group_by,
    view: q.view,
    currency: money.currency,
    rows,
    totals,
    ...(days ? { days } : {}),
    views: {
      ...byView,
      overcount: {
        conversions: p.conversions - d.conversions,
        revenue:
          p.revenue === null || d.revenue === null
            ? null
            : roundMoney(p.revenue - d.revenue, money.currency ?? NO_CURRENCY),
        revenue_by_currency: subtractMoney(p.revenue_by_currency, d.revenue_by_currency),
      },
    },
    rates: money.rates(),
    unconverted: money.unconverted(totals.unconverted_revenue, totals.unconverted_cost),
    notes: notesOf(q, totals, [...rows, ...(days ?? [])]),
  };
}
