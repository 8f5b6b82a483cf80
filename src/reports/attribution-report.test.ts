import { describe, expect, it } from 'vitest';
import { ATTRIBUTION_MODELS, type AttributionModel } from '../domain/attribution-models.js';
import { FxTable } from '../domain/fx-rates.js';
import type { ConversionPathRecord } from '../store/store.js';
import { attributionReport, type CampaignCredit } from './attribution-report.js';

const D = 86_400;
const DAY = Date.parse('2026-11-20T00:00:00Z') / 1000;

/** A conversion at noon of `day` after one click on each campaign, an hour apart. */
function path(
  id: string,
  day: number,
  value: number | null,
  currency: string | null,
  camps: string[],
) {
  const time = day + D / 2;
  return {
    env_id: 'e',
    conversion_id: id,
    event_pk: id,
    event_name: 'Purchase',
    event_time: time,
    value,
    currency,
    lookback_s: 30 * D,
    touches: camps.map((c, i) => ({
      kind: 'click',
      campaign_id: c,
      time: time - (camps.length - i) * 3600,
    })),
    created_at_ms: 0,
  } as unknown as ConversionPathRecord;
}

const paths = [
  path('p1', DAY, 100, 'EUR', ['a', 'b', 'c']),
  path('p2', DAY, 10, 'USD', ['a', 'b', 'c']),
  path('p3', DAY + D, 7, 'USD', ['b']),
  path('p4', DAY + D, 5, null, ['c']),
];
// USD→EUR only through GBP: USD→GBP dated 11-10, EUR→GBP dated 11-15 (the cross rate is
// dated by its older leg).
const fx = new FxTable([
  { date: '2026-11-10', from: 'USD', to: 'GBP', rate: 0.8 },
  { date: '2026-11-15', from: 'EUR', to: 'GBP', rate: 0.85 },
]);

describe('multi-touch report money', () => {
  it('AT01 rows add up to the totals per currency and converted, under every model', () => {
    for (const model of ATTRIBUTION_MODELS) {
      const r = attributionReport(paths, model as AttributionModel, fx, 'EUR');
      if (!('totals' in r) || 'models' in r) throw new Error('single model expected');
      const rows = r.rows as CampaignCredit[];
      const sum = (pick: (x: CampaignCredit) => number) => rows.reduce((t, x) => t + pick(x), 0);
      expect(sum((x) => x.revenue ?? 0)).toBeCloseTo(r.totals.revenue ?? Number.NaN, 5);
      for (const c of ['EUR', 'USD', 'XXX'])
        expect(sum((x) => x.revenue_by_currency[c] ?? 0)).toBeCloseTo(
          r.totals.revenue_by_currency[c] ?? Number.NaN,
          5,
        );
      // 100 EUR + 17 USD at 0.8/0.85, never 100 + 17; the 5 sent without a currency apart.
      expect(r.totals.revenue).toBeCloseTo(100 + (17 * 0.8) / 0.85, 5);
      expect(r.totals.unconverted_revenue).toEqual({ XXX: 5 });
    }
  });

  it('AT02 names the cross rate with its older leg date and what was left out', () => {
    const r = attributionReport(paths, 'linear', fx, 'EUR');
    expect(r.rates).toEqual([
      {
        from: 'USD',
        to: 'EUR',
        rate: expect.closeTo(0.8 / 0.85, 9),
        date: '2026-11-10',
        first_used: '2026-11-20',
        last_used: '2026-11-21',
      },
    ]);
    expect(r.unconverted).toEqual([
      {
        currency: 'XXX',
        revenue: 5,
        from: '2026-11-21',
        to: '2026-11-21',
        reason: 'sent without a currency',
      },
    ]);
  });

  it('AT03 with no currency named and several currencies, revenue is null, never a sum', () => {
    const r = attributionReport(paths, 'all', fx, null);
    expect(r.currency).toBeNull();
    expect(r.rates).toEqual([]);
    if (!('models' in r)) throw new Error('all models expected');
    const a = r.rows.find((x) => x.campaign_id === 'a');
    expect(a?.linear).toMatchObject({ revenue: null, revenue_by_currency: { EUR: 33.333333 } });
    expect(r.totals.first_touch).toMatchObject({
      revenue: null,
      revenue_by_currency: { EUR: 100, USD: 17, XXX: 5 },
    });
    // One currency only: it is the report's, no rate needed.
    const eurOnly = attributionReport(paths.slice(0, 1), 'linear', new FxTable([]), null);
    expect(eurOnly).toMatchObject({ currency: 'EUR', totals: { revenue: 100 }, unconverted: [] });
  });
});
