import { describe, expect, it } from 'vitest';
import { buildReport } from '../reports/report-build.js';
import { ReportMoney } from '../reports/report-money.js';
import { FxTable } from './fx-rates.js';
import { emptyCounts, type ReportCounts, type ReportQuery, reportCsv } from './report.js';

const q: ReportQuery = {
  env_id: 'e',
  from_s: Date.parse('2026-11-01T00:00:00Z') / 1000,
  to_s: Date.parse('2026-11-04T00:00:00Z') / 1000,
  group_by: 'day',
  view: 'deduplicated',
};
const DAY = Date.parse('2026-11-02T00:00:00Z') / 86_400_000;
const NO_RATES = new FxTable([]);

function report(
  query: ReportQuery,
  groups: ReportCounts[],
  opts: { other?: ReportCounts; currency?: string | null; fx?: FxTable } = {},
) {
  const money = new ReportMoney(
    opts.fx ?? NO_RATES,
    opts.currency === undefined ? 'EUR' : opts.currency,
  );
  return buildReport({ q: query, groups, days: groups, other: opts.other, money });
}

describe('reports', () => {
  it('RP01 a day report has every day of the range, zeros included', () => {
    const r = report(q, [{ ...emptyCounts('2026-11-02'), impressions: 4 }]);
    expect(r.rows.map((x) => [x.key, x.impressions])).toEqual([
      ['2026-11-01', 0],
      ['2026-11-02', 4],
      ['2026-11-03', 0],
    ]);
  });

  it('RP02 rates, CPA and ROAS are null rather than divided by zero', () => {
    const r = report({ ...q, group_by: 'campaign' }, [
      {
        ...emptyCounts('c1'),
        conversions: 3,
        revenue: [{ currency: 'EUR', day: DAY, amount: 90 }],
        cost: [{ currency: 'EUR', day: DAY, amount: 30 }],
      },
    ]);
    expect(r.totals).toMatchObject({ click_conversion_rate: null, cpa: 10, roas: 3 });
    expect(report(q, []).totals).toMatchObject({ cost: null, cpa: null, roas: null });
  });

  it('RP03 other groups sort by conversions; CSV quotes and defuses formulas', () => {
    const r = report({ ...q, group_by: 'campaign' }, [
      { ...emptyCounts('a,b'), conversions: 1 },
      { ...emptyCounts('=HYPERLINK("x")'), conversions: 2 },
    ]);
    expect(r.rows.map((x) => x.key)).toEqual(['=HYPERLINK("x")', 'a,b']);
    const lines = reportCsv(r).split('\r\n');
    expect(lines[1].startsWith(`"'=HYPERLINK(""x"")",`)).toBe(true);
    expect(lines[2].startsWith('"a,b",')).toBe(true);
  });

  it('RP04 money is never summed across currencies: no rate, no single figure', () => {
    const groups = [
      {
        ...emptyCounts('c1'),
        conversions: 1,
        revenue: [{ currency: 'EUR', day: DAY, amount: 10 }],
      },
      {
        ...emptyCounts('c2'),
        conversions: 1,
        revenue: [{ currency: 'USD', day: DAY, amount: 20 }],
      },
    ];
    const r = report({ ...q, group_by: 'campaign' }, groups, { currency: null });
    expect(r.currency).toBeNull();
    expect(r.totals).toMatchObject({
      revenue: null,
      revenue_by_currency: { EUR: 10, USD: 20 },
      roas: null,
    });
    const eur = report({ ...q, group_by: 'campaign' }, groups);
    expect(eur.totals).toMatchObject({ revenue: 10, unconverted_revenue: { USD: 20 } });
    expect(eur.unconverted).toEqual([
      {
        currency: 'USD',
        revenue: 20,
        cost: 0,
        from: '2026-11-02',
        to: '2026-11-02',
        reason: expect.stringMatching(/no USD→EUR rate in force on 2026-11-02/),
      },
    ]);
    expect(eur.notes.join(' ')).toMatch(/unconverted/);
  });

  it('RP05 each amount converts with the rate in force on its own day', () => {
    const fx = new FxTable([
      { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.5 },
      { date: '2026-11-03', from: 'USD', to: 'EUR', rate: 0.25 },
    ]);
    const r = report(
      q,
      [
        {
          ...emptyCounts('2026-11-02'),
          conversions: 1,
          revenue: [{ currency: 'USD', day: DAY, amount: 100 }],
        },
        {
          ...emptyCounts('2026-11-03'),
          conversions: 2,
          revenue: [
            { currency: 'USD', day: DAY + 1, amount: 100 },
            { currency: 'EUR', day: DAY + 1, amount: 1 },
          ],
        },
      ],
      { fx },
    );
    expect(r.rows.map((x) => x.revenue)).toEqual([0, 50, 26]);
    expect(r.totals).toMatchObject({
      revenue: 76,
      revenue_by_currency: { USD: 200, EUR: 1 },
      unconverted_revenue: {},
    });
    expect(r.unconverted).toEqual([]);
  });

  it('RP06 the other view is put beside this one with the over-count between them', () => {
    const dedup = { ...emptyCounts('2026-11-02'), conversions: 2, view_conversions: 2 };
    dedup.revenue = [{ currency: 'EUR', day: DAY, amount: 30 }];
    const platform = { ...emptyCounts(''), conversions: 3, view_conversions: 3, unattributed: 4 };
    platform.revenue = [{ currency: 'EUR', day: DAY, amount: 50 }];
    const r = report(q, [dedup], { other: platform });
    expect(r.views).toEqual({
      platform: expect.objectContaining({ conversions: 3, revenue: 50, unattributed: 4 }),
      deduplicated: expect.objectContaining({ conversions: 2, revenue: 30 }),
      overcount: { conversions: 1, revenue: 20, revenue_by_currency: { EUR: 20 } },
    });
  });

  it('RP07 CSV neutralises cells starting with TAB and CR as well as = + - @; numbers stay numbers', () => {
    const keys = ['\t=1+2', '\r=1+2', '\t5', '@SUM(A1)', '-5', '+3', 'plain'];
    const r = report(
      { ...q, group_by: 'campaign' },
      keys.map((k, i) => ({ ...emptyCounts(k), conversions: 10 - i })),
    );
    const cells = reportCsv(r)
      .split('\r\n')
      .slice(1, 1 + keys.length)
      .map((l) => (l.startsWith('"') ? l.slice(0, l.indexOf('",') + 1) : l.split(',')[0]));
    expect(cells).toEqual(["'\t=1+2", '"\'\r=1+2"', "'\t5", "'@SUM(A1)", '-5', '+3', 'plain']);
  });
  describe('CPA and ROAS never divide partly converted money (issue 23 review, finding 8)', () => {
    const usdRate = new FxTable([{ date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.5 }]);
    const camp = (revenue: ReportCounts['revenue'], cost: ReportCounts['cost']) => ({
      ...emptyCounts('c1'),
      conversions: 4,
      revenue,
      cost,
    });
    const byCampaign = (g: ReportCounts, fx = NO_RATES) =>
      report({ ...q, group_by: 'campaign' }, [g], { fx });

    it('RP08 a conversion in a currency with no rate: ROAS null with a note naming it; CPA kept', () => {
      const r = byCampaign(
        camp(
          [
            { currency: 'EUR', day: DAY, amount: 90, count: 3 },
            { currency: 'JPY', day: DAY, amount: 2000, count: 1 },
          ],
          [{ currency: 'EUR', day: DAY, amount: 40, count: 1 }],
        ),
      );
      for (const row of [r.rows[0], r.totals]) {
        // Before: ROAS 2.25 from the 90 EUR that converted, the 2000 JPY left out.
        expect(row).toMatchObject({
          revenue: 90,
          unconverted_revenue: { JPY: 2000 },
          unconverted_conversions: 1,
          cost: 40,
          cpa: 10,
          roas: null,
        });
        expect(row.ratio_note).toBe(
          'roas is empty: the revenue of 1 conversion (JPY 2000) could not be converted into EUR (no rate for the day; see unconverted)',
        );
      }
      expect(r.notes.join(' ')).toMatch(/ratio_note/);
    });

    it('RP09 a cost row with no rate: CPA and ROAS null with a note naming the rows', () => {
      const r = byCampaign(
        camp(
          [{ currency: 'EUR', day: DAY, amount: 90, count: 4 }],
          [
            { currency: 'EUR', day: DAY, amount: 40, count: 1 },
            { currency: 'GBP', day: DAY, amount: 10, count: 2 },
          ],
        ),
      );
      expect(r.totals).toMatchObject({
        cost: 40,
        unconverted_cost: { GBP: 10 },
        unconverted_cost_rows: 2,
        cpa: null,
        roas: null,
        ratio_note:
          'cpa and roas are empty: 2 cost rows (GBP 10) could not be converted into EUR (no rate for the day; see unconverted)',
      });
      // Wholly unconverted cost is no cost of 0: still null, not a CPA of 0.
      const gbpOnly = byCampaign(
        camp(
          [{ currency: 'EUR', day: DAY, amount: 90, count: 4 }],
          [{ currency: 'GBP', day: DAY, amount: 10, count: 1 }],
        ),
      );
      expect(gbpOnly.totals).toMatchObject({ cpa: null, roas: null });
      expect(gbpOnly.totals.ratio_note).toMatch(/^cpa and roas are empty: 1 cost row \(GBP 10\)/);
    });

    it('RP10 all money converted: CPA and ROAS as before, no note', () => {
      const r = byCampaign(
        camp(
          [
            { currency: 'EUR', day: DAY, amount: 90, count: 3 },
            { currency: 'USD', day: DAY, amount: 20, count: 1 },
          ],
          [{ currency: 'USD', day: DAY, amount: 80, count: 1 }],
        ),
        usdRate,
      );
      expect(r.totals).toMatchObject({
        revenue: 100,
        cost: 40,
        cpa: 10,
        roas: 2.5,
        unconverted_conversions: 0,
        unconverted_cost_rows: 0,
        ratio_note: null,
      });
      expect(r.notes).toEqual([]);
    });
  });
});
