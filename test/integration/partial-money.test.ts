// Issue 23 review, finding 8, through a real server on each store: CPA and ROAS are null, with
// a note naming what was left out, when some of the revenue or cost they divide had no rate
// for its day (GET /api/reports and /api/reports/attribution); and GET /api/stats counts ad
// touches apart from visits.
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
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const NOW_MS = Date.parse('2026-11-20T10:00:00Z');
const RANGE = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';
const JPY_NOTE =
  'roas is empty: the revenue of 1 conversion (JPY 2000) could not be converted into EUR ' +
  '(no rate for the day; see unconverted)';
const GBP_NOTE =
  'cpa and roas are empty: 1 cost row (GBP 10) could not be converted into EUR ' +
  '(no rate for the day; see unconverted)';

type Row = Record<string, unknown> & { key: string };
const byKey = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.key, r]));

/**
 * One server on `extra` (a database_url, or none for SQLite) with: c_a 100 EUR and 2000 JPY
 * of revenue (no JPY rate) for 40 EUR of cost; c_b 60 EUR of revenue for 30 EUR and 10 GBP of
 * cost (no GBP rate); c_c 50 EUR for 25 EUR, all converted. One impression and one organic
 * visit beside the four clicks.
 */
function partialMoneySuite(extra: () => Record<string, unknown>) {
  let hook: Receiver;
  let server: Server;
  let base: string;

  async function click(user: string, campaign: string) {
    const res = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=K-${user}&campaign_id=${campaign}` +
        `&user_id=${user}&url=https%3A%2F%2Fshop.example%2F`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    expect(res.status).toBe(302);
  }

  async function buy(user: string, value: number, currency: string) {
    await server.services.pipeline.flush();
    const r = await postEvents(base, [
      {
        event_name: 'Purchase',
        event_id: `ord-${user}`,
        user: { user_id: user },
        properties: { value, currency },
      },
    ]);
    expect(r.body.accepted).toBe(1);
  }

  beforeAll(async () => {
    hook = await startReceiver(() => 200);
    const raw = {
      ...testConfig(`${hook.url}/hook`, {}, { reporting_currency: 'EUR' }),
      ...extra(),
    };
    ({ server, base } = await startPixeltrail(raw, tempDir(), { nowMs: () => NOW_MS }));
    await click('u1', 'c_a');
    await click('u2', 'c_a');
    await click('u3', 'c_b');
    await click('u4', 'c_c');
    await buy('u1', 100, 'EUR');
    await buy('u2', 2000, 'JPY');
    await buy('u3', 60, 'EUR');
    await buy('u4', 50, 'EUR');
    const pixel = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-1&campaign_id=c_c`, {
      headers: { 'user-agent': UA },
    });
    const ptid = /ptid=([^;]+)/.exec(pixel.headers.get('set-cookie') ?? '')?.[1] as string;
    // A landing from Google's results: a visit touch of Organic Search, no ad touch.
    const landing = await fetch(`${base}/e`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: 'http://shop.test',
        'user-agent': UA,
        cookie: `ptid=${ptid}`,
      },
      body: JSON.stringify({
        env_id: 'env_t',
        event_name: 'PageView',
        event_id: 'pv-1',
        user: { anonymous_id: ptid },
        properties: { url: 'https://shop.example/shoes', referrer: 'https://www.google.com/' },
      }),
    });
    expect(landing.status).toBe(204);
    await server.services.pipeline.flush();
    const costs = await fetch(`${base}/api/costs?env_id=env_t`, {
      method: 'POST',
      headers: { authorization: 'Bearer adm', 'content-type': 'text/csv' },
      body: [
        'date,campaign_id,cost,currency',
        '2026-11-20,c_a,40,EUR',
        '2026-11-20,c_b,30,EUR',
        '2026-11-21,c_b,10,GBP',
        '2026-11-20,c_c,25,EUR',
      ].join('\n'),
    });
    expect((await costs.json()).saved).toBe(4);
  });

  afterAll(async () => {
    await server?.close();
    await hook?.close();
  });

  it('PM01 /api/reports: CPA and ROAS null where revenue or cost was partly converted, with the note; the rest as before', async () => {
    const r = await admin(base, `/api/reports?env_id=env_t&group_by=campaign&${RANGE}`);
    expect(r.status).toBe(200);
    const rows = byKey(r.body.rows);
    expect(rows.c_a).toMatchObject({
      conversions: 2,
      revenue: 100,
      unconverted_revenue: { JPY: 2000 },
      unconverted_conversions: 1,
      cost: 40,
      cpa: 20,
      roas: null,
      ratio_note: JPY_NOTE,
    });
    expect(rows.c_b).toMatchObject({
      revenue: 60,
      cost: 30,
      unconverted_cost: { GBP: 10 },
      unconverted_cost_rows: 1,
      cpa: null,
      roas: null,
      ratio_note: GBP_NOTE,
    });
    expect(rows.c_c).toMatchObject({ cost: 25, cpa: 25, roas: 2, ratio_note: null });
    expect(r.body.totals).toMatchObject({ cpa: null, roas: null });
    expect(r.body.totals.ratio_note).toMatch(/^cpa and roas are empty: 1 cost row \(GBP 10\)/);
    expect(r.body.unconverted).toEqual([
      expect.objectContaining({ currency: 'GBP', cost: 10, revenue: 0 }),
      expect.objectContaining({ currency: 'JPY', revenue: 2000, cost: 0 }),
    ]);
    expect(r.body.notes.join(' ')).toMatch(/ratio_note/);
  });

  it('PM02 /api/reports/attribution by campaign and by channel: the same rule under every model', async () => {
    const q = `/api/reports/attribution?env_id=env_t&${RANGE}`;
    const one = await admin(base, `${q}&model=last_touch&by=campaign`);
    expect(one.status).toBe(200);
    const rows = byKey(one.body.rows);
    expect(rows.c_a).toMatchObject({ cpa: 20, roas: null, ratio_note: JPY_NOTE });
    expect(rows.c_b).toMatchObject({
      unconverted_cost_rows: 1,
      cpa: null,
      roas: null,
      ratio_note: GBP_NOTE,
    });
    expect(rows.c_c).toMatchObject({ cpa: 25, roas: 2, ratio_note: null });
    const all = await admin(base, `${q}&model=all&by=channel`);
    expect(all.status).toBe(200);
    for (const m of all.body.models)
      expect(all.body.totals[m]).toMatchObject({
        cpa: null,
        roas: null,
        ratio_note: expect.stringMatching(/^cpa and roas are empty: 1 cost row \(GBP 10\)/),
      });
  });

  it('PM03 /api/stats and /api/health count ad touches (impressions and clicks) apart from visits', async () => {
    const r = await admin(base, '/api/stats?env_id=env_t');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ touches: 5, impressions: 1, clicks: 4, visits: 1 });
    // The Health page's counts of the last 24 h, the same way.
    const health = await admin(base, '/api/health?env_id=env_t');
    expect(health.status).toBe(200);
    expect(health.body.touches).toEqual({ count: 5, last_seen_ms: NOW_MS });
    expect(health.body.visits).toEqual({ count: 1, last_seen_ms: NOW_MS });
  });
}

describe('partly converted money and touch counts on SQLite', () => {
  partialMoneySuite(() => ({}));
});

describe.skipIf(!(await postgresAvailable()))(
  'partly converted money and touch counts on PostgreSQL',
  () => {
    let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    beforeAll(async () => {
      db = await freshPostgresDatabase();
    });
    afterAll(async () => {
      await db?.drop();
    });
    // Nested, so the database exists before the suite's server starts.
    describe('a fresh database', () => partialMoneySuite(() => ({ database_url: db.url })));
  },
);
