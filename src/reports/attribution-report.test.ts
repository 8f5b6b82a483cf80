import { describe, expect, it } from 'vitest';
import { countTurns } from '../../test/helpers/loop-turns.js';
import { ATTRIBUTION_MODELS, type AttributionModel } from '../domain/attribution-models.js';
import { DEFAULT_CHANNEL_SETTINGS } from '../domain/channel-rules.js';
import { FxTable } from '../domain/fx-rates.js';
import { abortable } from '../pacing/pausing.js';
import { turnGate } from '../pacing/turn-gate.js';
import type { ConversionPathRecord } from '../store/store.js';
import { attributionReport, type CampaignCredit } from './attribution-report.js';
import { reportDimension } from './report-dimension.js';

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
  it('AT01 rows add up to the totals per currency and converted, under every model', async () => {
    for (const model of ATTRIBUTION_MODELS) {
      const r = await attributionReport(paths, model as AttributionModel, fx, 'EUR');
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

  it('AT02 names the cross rate with its older leg date and what was left out', async () => {
    const r = await attributionReport(paths, 'linear', fx, 'EUR');
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

  it('AT03 with no currency named and several currencies, revenue is null, never a sum', async () => {
    const r = await attributionReport(paths, 'all', fx, null);
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
    const eurOnly = await attributionReport(paths.slice(0, 1), 'linear', new FxTable([]), null);
    expect(eurOnly).toMatchObject({ currency: 'EUR', totals: { revenue: 100 }, unconverted: [] });
  });
});

describe('by channel, with costs (issue 23)', () => {
  const env = {
    id: 'e',
    destinations: [{ id: 'meta1', type: 'meta' }],
  } as unknown as import('../domain/config-types.js').EnvironmentConfig;
  const organic = {
    kind: 'visit',
    touch_id: 'v_1',
    dest_id: null,
    campaign_id: null,
    traffic_source: {
      source: 'google',
      medium: 'organic',
      by: 'referrer',
      source_category: 'search',
      referrer_host: 'www.google.com',
    },
  };
  const paypal = {
    kind: 'visit',
    touch_id: 'v_2',
    dest_id: null,
    campaign_id: null,
    traffic_source: {
      source: 'paypal.com',
      medium: 'referral',
      by: 'referrer',
      referrer_host: 'www.paypal.com',
    },
  };
  const time = DAY + D / 2;
  const mk = (id: string, value: number, touches: object[]) =>
    ({
      env_id: 'e',
      conversion_id: id,
      event_pk: id,
      event_name: 'Purchase',
      event_time: time,
      value,
      currency: 'EUR',
      lookback_s: 7 * D,
      touches: touches.map((t, i) => ({ ...t, time: time - (touches.length - i) * 3600 })),
      created_at_ms: 0,
    }) as unknown as ConversionPathRecord;
  // Meta impression → organic Google visit → PayPal return → purchase; and one with no touch.
  const metaImp = { kind: 'impression', touch_id: 'i1', dest_id: 'meta1', campaign_id: 'm-spring' };
  const ps = [mk('q1', 100, [metaImp, organic, paypal]), mk('q2', 50, [])];
  const costs = [
    {
      day: DAY / D,
      campaign_id: 'm-spring',
      channel: '',
      cost: 40,
      currency: 'EUR',
      source: null,
      medium: null,
      impressions: 1000,
      clicks: 20,
    },
    {
      day: DAY / D,
      campaign_id: 'nl-may',
      channel: 'Email',
      cost: 10,
      currency: 'USD',
      source: null,
      medium: null,
      impressions: null,
      clicks: null,
    },
  ];

  it('AT17 by channel, the report paused gives the same rows; the loop turns while touches are keyed', async () => {
    const whole = await attributionReport(ps, 'all', fx, 'EUR', {
      dimension: await reportDimension('channel', env, DEFAULT_CHANNEL_SETTINGS, ps),
      costs,
    });
    const counter = countTurns();
    const dimension = await reportDimension(
      'channel',
      env,
      DEFAULT_CHANNEL_SETTINGS,
      ps,
      turnGate(0),
    );
    const keyed = counter.turns();
    counter.stop();
    // One turn after each path at least (the campaign rows of costs key every touch).
    expect(keyed).toBeGreaterThanOrEqual(ps.length);
    expect(await attributionReport(ps, 'all', fx, 'EUR', { dimension, costs })).toEqual(whole);
  });

  it('AT10 rows by channel: Meta credit is Paid Social, the organic visit Organic Search, no touch is Direct; PayPal is ignored', async () => {
    const dimension = await reportDimension('channel', env, DEFAULT_CHANNEL_SETTINGS, ps);
    const r = await attributionReport(ps, 'all', fx, 'EUR', { dimension, costs });
    if (!('models' in r)) throw new Error('all models expected');
    const row = (k: string) => r.rows.find((x) => x.key === k);
    expect(row('Paid Social')?.first_touch).toMatchObject({ conversions: 1, revenue: 100 });
    expect(row('Organic Search')?.last_touch).toMatchObject({ conversions: 1, revenue: 100 });
    expect(row('Paid Social')?.linear).toMatchObject({ conversions: 0.5, revenue: 50 });
    expect(row('Direct')?.linear).toMatchObject({ conversions: 1, revenue: 50 });
    expect(row('Referral')).toBeUndefined();
    // The campaign's cost follows the channel its touches fall in; CPA and ROAS per model.
    expect(row('Paid Social')).toMatchObject({ cost: 40, impressions: 1000, clicks: 20 });
    expect(row('Paid Social')?.first_touch).toMatchObject({ cpa: 40, roas: 2.5 });
    expect(row('Paid Social')?.last_touch).toMatchObject({ conversions: 0, cpa: null, roas: 0 });
    // 10 USD on 11-20: USD→EUR through GBP (0.8 / 0.85), never 40 + 10.
    expect(row('Email')?.cost).toBeCloseTo((10 * 0.8) / 0.85, 2);
    expect(r.cost.cost_by_currency).toEqual({ EUR: 40, USD: 10 });
    expect(r.totals.linear).toMatchObject({ conversions: 2, revenue: 150 });
  });

  it('AT11 rows by source / medium and by campaign', async () => {
    const sm = await attributionReport(ps, 'linear', fx, 'EUR', {
      dimension: await reportDimension('source_medium', env, DEFAULT_CHANNEL_SETTINGS, ps),
      costs,
    });
    if ('models' in sm) throw new Error('one model expected');
    expect(sm.rows.map((x) => x.key).sort()).toEqual([
      '(direct) / (none)',
      // nl-may's cost says neither its source and medium nor has touches to tell them.
      '(not set) / (not set)',
      'facebook / cpm',
      'google / organic',
    ]);
    expect(sm.rows.find((x) => x.key === 'facebook / cpm')?.cost).toBe(40);
    const byCampaign = await attributionReport(ps, 'linear', fx, 'EUR', {
      dimension: await reportDimension('campaign', env, DEFAULT_CHANNEL_SETTINGS, ps),
      costs,
    });
    if ('models' in byCampaign) throw new Error('one model expected');
    expect(byCampaign.rows.find((x) => x.key === 'm-spring')).toMatchObject({
      campaign_id: 'm-spring',
      conversions: 0.5,
      cost: 40,
      cpa: 80,
    });
    // A campaign with cost and no conversion is a row too: its cost is not lost.
    expect(byCampaign.rows.find((x) => x.key === 'nl-may')).toMatchObject({
      conversions: 0,
      cpa: null,
    });
  });
});

describe('CPA and ROAS never divide partly converted money (issue 23 review, finding 8)', () => {
  const cost = (campaign_id: string, value: number, currency: string) => ({
    day: DAY / D,
    campaign_id,
    channel: '',
    cost: value,
    currency,
    source: null,
    medium: null,
    impressions: null,
    clicks: null,
  });
  const usd = new FxTable([{ date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.5 }]);
  const single = (r: Awaited<ReturnType<typeof attributionReport>>) => {
    if ('models' in r) throw new Error('one model expected');
    return r;
  };
  const row = (r: { rows: CampaignCredit[] }, k: string) => r.rows.find((x) => x.key === k);

  it('AT12 a conversion in a currency with no rate: ROAS null with a note, under every model', async () => {
    const ps = [path('j1', DAY, 100, 'EUR', ['a']), path('j2', DAY, 2000, 'JPY', ['a'])];
    const r = await attributionReport(ps, 'all', usd, 'EUR', { costs: [cost('a', 50, 'EUR')] });
    if (!('models' in r)) throw new Error('all models expected');
    for (const m of ATTRIBUTION_MODELS) {
      const figures = [r.rows[0]?.[m as AttributionModel], r.totals[m as AttributionModel]];
      // Before: ROAS 2 from the 100 EUR that converted, the 2000 JPY left out.
      for (const f of figures)
        expect(f).toMatchObject({
          revenue: 100,
          unconverted_revenue: { JPY: 2000 },
          unconverted_conversions: 1,
          cpa: 25,
          roas: null,
          ratio_note:
            'roas is empty: the revenue of 1 conversion (JPY 2000) could not be converted into EUR (no rate for the day; see unconverted)',
        });
    }
    expect(r.notes.join(' ')).toMatch(/ratio_note/);
  });

  it('AT13 a cost row with no rate: CPA and ROAS null with a note naming the rows', async () => {
    const ps = [path('j1', DAY, 100, 'EUR', ['a']), path('j2', DAY, 60, 'EUR', ['b'])];
    const costs = [cost('a', 20, 'EUR'), cost('a', 10, 'GBP'), cost('b', 30, 'EUR')];
    const r = single(await attributionReport(ps, 'last_touch', usd, 'EUR', { costs }));
    // Before: CPA 20 and ROAS 5 from the 20 EUR, the 10 GBP left out.
    expect(row(r, 'a')).toMatchObject({
      cost: 20,
      unconverted_cost: { GBP: 10 },
      unconverted_cost_rows: 1,
      cpa: null,
      roas: null,
      ratio_note:
        'cpa and roas are empty: 1 cost row (GBP 10) could not be converted into EUR (no rate for the day; see unconverted)',
    });
    // The other row's money all converted: its figures stand.
    expect(row(r, 'b')).toMatchObject({ cpa: 30, roas: 2, ratio_note: null });
    expect(r.totals).toMatchObject({ cpa: null, roas: null, unconverted_cost_rows: 1 });
    expect(r.totals.ratio_note).toMatch(/^cpa and roas are empty: 1 cost row \(GBP 10\)/);
  });

  it('AT14 all money converted: CPA and ROAS as before, no note', async () => {
    const ps = [path('j1', DAY, 100, 'EUR', ['a']), path('j2', DAY, 40, 'USD', ['a'])];
    const r = single(
      await attributionReport(ps, 'linear', usd, 'EUR', { costs: [cost('a', 60, 'USD')] }),
    );
    expect(r.totals).toMatchObject({
      revenue: 120,
      cost: 30,
      cpa: 15,
      roas: 4,
      unconverted_conversions: 0,
      unconverted_cost_rows: 0,
      ratio_note: null,
    });
    expect(r.notes).toEqual([]);
  });
});

describe('the report pauses for the event loop (issue 22)', () => {
  // 400 conversions over 40 campaigns, every model: no budget left, so it pauses at each step.
  const many = Array.from({ length: 400 }, (_, i) =>
    path(`m${i}`, DAY + (i % 5) * D, i % 7, 'EUR', [`k${i % 40}`, `k${(i * 3) % 40}`]),
  );

  it('AT15 the same report, paused: the loop turns while the paths are credited and the graph solved', async () => {
    const whole = await attributionReport(many, 'all', fx, 'EUR');
    const counter = countTurns();
    const paused = await attributionReport(many, 'all', fx, 'EUR', { pause: turnGate(0) });
    counter.stop();
    expect(paused).toEqual(whole);
    // Each model credits 400 paths; the data-driven one also solves 41 states.
    expect(counter.turns()).toBeGreaterThan(ATTRIBUTION_MODELS.length * many.length);
    const unpaused = countTurns();
    await attributionReport(many, 'all', fx, 'EUR');
    unpaused.stop();
    expect(unpaused.turns()).toBe(0);
  });
});

describe('a report whose client has gone', () => {
  it('AT19 stops at its next pause with the reason, crediting no further', async () => {
    const many = Array.from({ length: 400 }, (_, i) =>
      path(`q${i}`, DAY, 10, 'EUR', [`k${i % 40}`, `k${(i * 7) % 40}`]),
    );
    const gone = new AbortController();
    const reason = new Error('the client closed the request');
    let pauses = 0;
    const gate = turnGate(0);
    const counted = () => {
      // The client leaves after the report's tenth pause.
      if (++pauses === 10) gone.abort(reason);
      return gate();
    };
    await expect(
      attributionReport(many, 'all', fx, 'EUR', { pause: abortable(counted, gone.signal) }),
    ).rejects.toBe(reason);
    expect(pauses).toBe(10);
  });
});

describe('a data-driven graph over its bound (issue 22)', () => {
  it('AT16 the least-visited campaigns share one state, and the report says so', async () => {
    // 12 campaigns, a graph of at most 5 states: k0…k3 keep theirs (the most visited), 8 share one.
    const ps = Array.from({ length: 60 }, (_, i) =>
      path(`g${i}`, DAY, 10, 'EUR', [`k${i % 12}`, `k${i % 4}`]),
    );
    const r = await attributionReport(ps, 'data_driven', fx, 'EUR', { markov_states: 5 });
    expect(r.notes).toContain(
      'data_driven: the 8 campaign rows with the fewest touches share one state of the Markov graph, which holds at most 5, and so one removal effect',
    );
    // Every conversion is still credited in full.
    if (!('totals' in r) || 'models' in r) throw new Error('single model expected');
    expect(r.totals.conversions).toBeCloseTo(60, 9);
    // Touches in two merged campaigns split their state's effect, as two touches of one
    // campaign would: k0's credit is the same with k5 and k9 apart or named alike.
    const mixed = [...ps, path('mix', DAY, 90, 'EUR', ['k0', 'k5', 'k9'])];
    const alike = [...ps, path('mix', DAY, 90, 'EUR', ['k0', 'k5', 'k5'])];
    const rowOf = async (paths: typeof ps) => {
      const rep = await attributionReport(paths, 'data_driven', fx, 'EUR', { markov_states: 5 });
      if (!('totals' in rep) || 'models' in rep) throw new Error('single model expected');
      return rep.rows.find((x) => x.key === 'k0')?.revenue;
    };
    expect(await rowOf(mixed)).toBeCloseTo((await rowOf(alike)) as number, 9);
    const under = await attributionReport(ps, 'data_driven', fx, 'EUR');
    expect(under.notes.some((n) => n.startsWith('data_driven:'))).toBe(false);
  });
});
