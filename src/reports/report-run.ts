import { type FxRate, FxTable } from '../domain/fx-rates.js';
import type { Report, ReportCounts, ReportQuery } from '../domain/report.js';
import { buildReport } from './report-build.js';
import { ReportMoney, reportCurrency } from './report-money.js';

/** What running a report reads. */
export interface ReportSources {
  /** The store's counts of a query. */
  counts: (q: ReportQuery) => Promise<ReportCounts[]>;
  /** Every exchange rate in force (file and saved). */
  rates: () => Promise<FxRate[]>;
}

/**
 * Runs a report: the groups asked for, the same range by day (for the chart), and the other
 * view's total, converted into `currency` (the one asked for or the environment's; null lets
 * the report name the only currency of its money).
 */
export async function runReport(
  src: ReportSources,
  q: ReportQuery,
  currency: string | null,
): Promise<Report> {
  const groups = await src.counts(q);
  const days = q.group_by === 'day' ? groups : await src.counts({ ...q, group_by: 'day' });
  const other = (
    await src.counts({
      ...q,
      group_by: 'total',
      view: q.view === 'platform' ? 'deduplicated' : 'platform',
    })
  )[0];
  const amounts = groups.flatMap((g) => [...g.revenue, ...g.cost]);
  const money = new ReportMoney(new FxTable(await src.rates()), reportCurrency(currency, amounts));
  return buildReport({ q, groups, days, other, money });
}
