// Issue 19 / DESIGN §6 "Money is never summed across currencies", through a real server:
// exchange rates uploaded to /api/fx-rates (CSV and JSON, bad rows named), listed, and used by
// the reports with the rate of each conversion's own day: the multi-touch report
// (/api/reports/attribution) and /api/reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const DAY1_MS = Date.parse('2026-11-20T10:00:00Z');
const DAY2_MS = Date.parse('2026-11-21T10:00:00Z');
const RANGE = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';

let hook: Receiver;
let server: Server;
let base: string;
let now = DAY1_MS;

/** `user` clicks an ad of `campaign` on env `env`, so their purchase matches it by user id. */
async function click(env: string, user: string, campaign: string): Promise<void> {
  const res = await fetch(
    `${base}/c?env_id=${env}&dest_id=dsp1&click_id=K-${user}&campaign_id=${campaign}` +
      `&user_id=${user}&url=https%3A%2F%2Fshop.example%2F`,
    { headers: { 'user-agent': UA }, redirect: 'manual' },
  );
  expect(res.status).toBe(302);
}

async function buy(env: string, user: string, value: number, currency: string): Promise<void> {
  await server.services.pipeline.flush();
  const r = await postEvents(
    base,
    [
      {
        event_name: 'Purchase',
        event_id: `ord-${env}-${user}`,
        user: { user_id: user },
        properties: { value, currency },
      },
    ],
    env === 'env_t' ? 'wk_t' : 'wk_n',
  );
  expect(r.body.accepted).toBe(1);
}

function postCsv(csv: string) {
  return fetch(`${base}/api/fx-rates`, {
    method: 'POST',
    headers: { authorization: 'Bearer adm', 'content-type': 'text/csv' },
    body: csv,
  }).then(async (res) => ({ status: res.status, body: await res.json() }));
}

const attribution = (q: string) => admin(base, `/api/reports/attribution?${RANGE}&${q}`);
type Row = { campaign_id: string; revenue: number | null } & Record<string, unknown>;
const byCampaign = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.campaign_id, r]));

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  const raw = testConfig(`${hook.url}/hook`, {}, { reporting_currency: 'EUR' }) as ReturnType<
    typeof testConfig
  > & { fx_rates?: unknown[] };
  // A config rate dated before the range; the API adds a newer one for day 2.
  raw.fx_rates = [{ date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.9 }];
  // A second environment with no reporting currency.
  raw.environments.push({
    ...raw.environments[0],
    id: 'env_n',
    name: 'No currency',
    write_key: 'wk_n',
    reporting_currency: undefined,
  } as (typeof raw.environments)[number]);
  ({ server, base } = await startPixeltrail(raw, tempDir(), { nowMs: () => now }));

  // Day 1: u1 pays 100 EUR after a click on c_eur; u2 50 USD after a click on c_usd.
  await click('env_t', 'u1', 'c_eur');
  await click('env_t', 'u2', 'c_usd');
  await buy('env_t', 'u1', 100, 'EUR');
  await buy('env_t', 'u2', 50, 'USD');
  await click('env_n', 'n1', 'c_n');
  await click('env_n', 'n2', 'c_n');
  await buy('env_n', 'n1', 10, 'EUR');
  await buy('env_n', 'n2', 20, 'USD');
  // Day 2: u3 pays 50 USD after a click on c_usd; u4 2000 JPY (no JPY rate at all) on c_jpy.
  now = DAY2_MS;
  await click('env_t', 'u3', 'c_usd');
  await click('env_t', 'u4', 'c_jpy');
  await buy('env_t', 'u3', 50, 'USD');
  await buy('env_t', 'u4', 2000, 'JPY');
  await server.services.pipeline.flush();
});

afterAll(async () => {
  await server?.close();
  await hook?.close();
});

describe('/api/fx-rates through a real server', () => {
  it('FXI01 a CSV upload saves the good lines and names each bad one with its line and field', async () => {
    const r = await postCsv(
      'Date,From,To,Rate\r\n' +
        '2026-11-21,USD,EUR,0.8\r\n' +
        '2026-11-31,USD,EUR,0.7\r\n' +
        '\r\n' +
        '2026-11-21,usd,USD,1\r\n' +
        '2026-11-22,USD,EUR,"0,75"\r\n',
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      saved: 1,
      errors: [
        expect.objectContaining({ index: 1, line: 3, field: 'date' }),
        expect.objectContaining({ index: 2, line: 5, field: 'to' }),
        expect.objectContaining({ index: 3, line: 6, field: 'rate' }),
      ],
    });
  });

  it('FXI02 nothing good is a 400 naming each bad row or field; nothing is saved', async () => {
    const json = await admin(base, '/api/fx-rates', 'POST', {
      rates: [
        { date: '2026-11-23', from: 'USD', to: 'EUR', rate: -1 },
        { date: '2026-11-23', from: 'DOLLAR', to: 'EUR', rate: 0.8 },
      ],
    });
    expect(json.status).toBe(400);
    expect(json.body.errors).toEqual([
      expect.objectContaining({ index: 0, field: 'rates[0].rate' }),
      expect.objectContaining({ index: 1, field: 'rates[1].from' }),
    ]);
    const csv = await postCsv('date,from,to,rate\n2026-11-23,USD,EUR,abc\n');
    expect(csv.status).toBe(400);
    expect(csv.body.errors).toEqual([
      expect.objectContaining({ index: 0, line: 2, field: 'rate' }),
    ]);
    const noHeader = await postCsv('day,currency,rate\n2026-11-23,USD,0.8\n');
    expect(noHeader.status).toBe(400);
    expect(noHeader.body.errors).toEqual([expect.objectContaining({ field: 'header' })]);
    const notList = await admin(base, '/api/fx-rates', 'POST', { rates: 'USD' });
    expect(notList.status).toBe(400);
    expect(notList.body.errors[0].field).toBe('rates');
    const listed = await admin(base, '/api/fx-rates?since=2026-11-23');
    expect(listed.body.rates).toEqual([]);
  });

  it('FXI03 lists the config file and saved rates with their source, filtered', async () => {
    const all = await admin(base, '/api/fx-rates?from=usd&to=EUR');
    expect(all.status).toBe(200);
    expect(all.body.rates).toEqual([
      { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.9, source: 'config' },
      { date: '2026-11-21', from: 'USD', to: 'EUR', rate: 0.8, source: 'api' },
    ]);
    const since = await admin(base, '/api/fx-rates?since=2026-11-02');
    expect(since.body.rates).toEqual([
      { date: '2026-11-21', from: 'USD', to: 'EUR', rate: 0.8, source: 'api' },
    ]);
    const bad = await admin(base, '/api/fx-rates?from=dollars');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('from');
  });

  it('FXI04 /api/reports converts each amount with the rate of its own day and names the rates', async () => {
    const r = await admin(base, `/api/reports?env_id=env_t&group_by=campaign&${RANGE}`);
    expect(r.status).toBe(200);
    expect(r.body.currency).toBe('EUR');
    const rows = byCampaign(
      r.body.rows.map((x: Row & { key: string }) => ({ ...x, campaign_id: x.key })),
    );
    // 50 USD at 0.9 (dated 2026-11-01) on day 1 and 50 USD at 0.8 (dated 2026-11-21) on day 2.
    expect(rows.c_usd).toMatchObject({ revenue: 85, revenue_by_currency: { USD: 100 } });
    expect(r.body.totals).toMatchObject({
      revenue: 185,
      revenue_by_currency: { EUR: 100, JPY: 2000, USD: 100 },
      unconverted_revenue: { JPY: 2000 },
    });
    // The rates the figures rest on, with their dates and the days they converted.
    expect(r.body.rates).toEqual([
      {
        from: 'USD',
        to: 'EUR',
        rate: 0.9,
        date: '2026-11-01',
        first_used: '2026-11-20',
        last_used: '2026-11-20',
      },
      {
        from: 'USD',
        to: 'EUR',
        rate: 0.8,
        date: '2026-11-21',
        first_used: '2026-11-21',
        last_used: '2026-11-21',
      },
    ]);
    expect(r.body.unconverted).toEqual([
      expect.objectContaining({
        currency: 'JPY',
        revenue: 2000,
        from: '2026-11-21',
        reason: expect.stringContaining('no JPY→EUR rate in force on 2026-11-21'),
      }),
    ]);
  });
});

describe('GET /api/reports/attribution keeps money per currency', () => {
  it('ARC01 revenue per currency, converted with dated rates, the rates named, JPY apart', async () => {
    const r = await attribution('env_id=env_t&model=last_touch');
    expect(r.status).toBe(200);
    expect(r.body.currency).toBe('EUR');
    expect(r.body.rows).toMatchObject([
      {
        campaign_id: 'c_eur',
        conversions: 1,
        revenue: 100,
        revenue_by_currency: { EUR: 100 },
        unconverted_revenue: {},
      },
      {
        campaign_id: 'c_usd',
        conversions: 2,
        revenue: 85,
        revenue_by_currency: { USD: 100 },
        unconverted_revenue: {},
      },
      {
        campaign_id: 'c_jpy',
        conversions: 1,
        revenue: 0,
        revenue_by_currency: { JPY: 2000 },
        unconverted_revenue: { JPY: 2000 },
      },
    ]);
    expect(r.body.totals).toMatchObject({
      conversions: 4,
      revenue: 185,
      revenue_by_currency: { EUR: 100, JPY: 2000, USD: 100 },
      unconverted_revenue: { JPY: 2000 },
    });
    expect(r.body.rates).toEqual([
      {
        from: 'USD',
        to: 'EUR',
        rate: 0.9,
        date: '2026-11-01',
        first_used: '2026-11-20',
        last_used: '2026-11-20',
      },
      {
        from: 'USD',
        to: 'EUR',
        rate: 0.8,
        date: '2026-11-21',
        first_used: '2026-11-21',
        last_used: '2026-11-21',
      },
    ]);
    expect(r.body.unconverted).toEqual([
      {
        currency: 'JPY',
        revenue: 2000,
        from: '2026-11-21',
        to: '2026-11-21',
        reason: 'no JPY→EUR rate in force on 2026-11-21 (add one at /api/fx-rates)',
      },
    ]);
    expect(r.body.notes).toEqual([expect.stringContaining('unconverted')]);
  });

  it('ARC02 currency= converts the other way (inverted rate); a bad code is named', async () => {
    const r = await attribution('env_id=env_t&model=first_touch&currency=usd');
    expect(r.body.currency).toBe('USD');
    const rows = byCampaign(r.body.rows);
    expect(rows.c_usd.revenue).toBe(100);
    expect(rows.c_eur.revenue).toBeCloseTo(100 / 0.9, 5);
    expect(r.body.rates).toEqual([
      expect.objectContaining({ from: 'EUR', to: 'USD', date: '2026-11-01' }),
    ]);
    const bad = await attribution('env_id=env_t&currency=euros');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'currency' })]);
  });

  it('ARC03 model=all: each model totals the same converted revenue, per currency kept', async () => {
    const r = await attribution('env_id=env_t&model=all');
    expect(r.status).toBe(200);
    for (const model of r.body.models)
      expect(r.body.totals[model]).toMatchObject({
        revenue: 185,
        revenue_by_currency: { EUR: 100, JPY: 2000, USD: 100 },
      });
    const usd = byCampaign(r.body.rows).c_usd as unknown as Record<string, Row>;
    expect(usd.linear).toMatchObject({ revenue: 85, revenue_by_currency: { USD: 100 } });
    expect(r.body.unconverted).toEqual([expect.objectContaining({ currency: 'JPY' })]);
  });

  it('ARC04 with no reporting currency, EUR and USD are never added: revenue is null', async () => {
    const r = await attribution('env_id=env_n&model=linear');
    expect(r.body.currency).toBeNull();
    expect(r.body.rows).toMatchObject([
      {
        campaign_id: 'c_n',
        conversions: 2,
        revenue: null,
        revenue_by_currency: { EUR: 10, USD: 20 },
        unconverted_revenue: { EUR: 10, USD: 20 },
      },
    ]);
    expect(r.body.totals.revenue).toBeNull();
    expect(r.body.unconverted.map((u: { reason: string }) => u.reason)).toEqual([
      expect.stringContaining('names no currency'),
      expect.stringContaining('names no currency'),
    ]);
    // Asked for EUR, the day's USD rate (the config's, 0.9) converts it.
    const eur = await attribution('env_id=env_n&model=linear&currency=EUR');
    expect(eur.body.rows[0]).toMatchObject({ revenue: 28, unconverted_revenue: {} });
  });

  it('ARC05 once the day-2 rate is deleted, day 2 uses the older dated rate', async () => {
    const del = await admin(base, '/api/fx-rates?date=2026-11-21&from=USD&to=EUR', 'DELETE');
    expect(del.status).toBe(200);
    const again = await admin(base, '/api/fx-rates?date=2026-11-21&from=USD&to=EUR', 'DELETE');
    expect(again.status).toBe(404);
    const r = await attribution('env_id=env_t&model=last_touch');
    expect(byCampaign(r.body.rows).c_usd.revenue).toBe(90);
    expect(r.body.rates).toEqual([
      expect.objectContaining({ rate: 0.9, date: '2026-11-01', last_used: '2026-11-21' }),
    ]);
  });
});
