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
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const DAY1_MS = Date.parse('2026-11-20T10:00:00Z');
const DAY2_MS = Date.parse('2026-11-21T10:00:00Z');

/** The ptid cookie a pixel or click answer set. */
function ptid(res: Response): string {
  const m = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  if (!m) throw new Error('no ptid cookie');
  return m[1];
}

/**
 * A purchase by the browser holding `anon`, from an IP no pixel hit came from, so only the
 * cookie can match it.
 */
function purchaseBy(anon: string | null, id: string, value: number) {
  return {
    event_name: 'Purchase',
    event_id: id,
    user: { ...(anon ? { anonymous_id: anon } : {}), ip: '198.51.100.7', user_agent: 'UA-shop' },
    properties: { value, currency: 'EUR' },
  };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`GET /api/reports on ${kind}`, () => {
    let hook: Receiver;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let now = DAY1_MS;

    beforeAll(async () => {
      hook = await startReceiver(() => 200);
      const opened = await open();
      dispose = opened.dispose;
      const raw = testConfig(`${hook.url}/hook`);
      raw.environments[0].destinations.push({
        ...raw.environments[0].destinations[0],
        id: 'dsp2',
      });
      ({ server, base } = await startPixeltrail(raw, tempDir(), {
        store: opened.store,
        nowMs: () => now,
      }));
      const pixel = (path: string) =>
        fetch(`${base}${path}`, {
          headers: { 'user-agent': UA },
          redirect: 'manual',
        });

      // Day 1: A sees an impression of c1/cr1 and buys (view); B clicks c1/cr2.
      const a = ptid(
        await pixel('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-A&campaign_id=c1&creative_id=cr1'),
      );
      const b = ptid(
        await pixel(
          '/c?env_id=env_t&dest_id=dsp1&click_id=CLK-B&campaign_id=c1&creative_id=cr2&url=https%3A%2F%2Fshop.example%2F',
        ),
      );
      await server.services.pipeline.flush();
      expect((await postEvents(base, [purchaseBy(a, 'ord-a', 10)])).body.accepted).toBe(1);
      // Day 2: B buys (click); C sees c2 and buys (view); D buys with no touch at all.
      now = DAY2_MS;
      const c = ptid(await pixel('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-C&campaign_id=c2'));
      await server.services.pipeline.flush();
      const r = await postEvents(base, [
        purchaseBy(b, 'ord-b', 20),
        purchaseBy(c, 'ord-c', 5),
        purchaseBy(null, 'ord-d', 7),
      ]);
      expect(r.body.accepted).toBe(3);
      const cost = await admin(base, '/api/campaign-costs', 'PUT', {
        env_id: 'env_t',
        campaign_id: 'c1',
        from: '2026-11-20',
        to: '2026-11-21',
        cost: 30,
        currency: 'EUR',
      });
      expect(cost).toEqual({ status: 200, body: { env_id: 'env_t', campaign_id: 'c1', days: 2 } });
    });

    afterAll(async () => {
      await server?.close();
      await dispose?.();
      await hook?.close();
    });

    const report = (q: string) => admin(base, `/api/reports?env_id=env_t&${q}`);

    it('R01 by day: every day of the range, view and click conversions apart, cost per day', async () => {
      const { status, body } = await report('from=2026-11-19&to=2026-11-21&group_by=day');
      expect(status).toBe(200);
      expect(body.rows.map((r: any) => r.key)).toEqual(['2026-11-19', '2026-11-20', '2026-11-21']);
      expect(body.rows[0]).toMatchObject({ impressions: 0, conversions: 0, cost: null });
      expect(body.rows[1]).toMatchObject({
        impressions: 1,
        clicks: 1,
        conversions: 1,
        view_conversions: 1,
        click_conversions: 0,
        unattributed: 0,
        revenue: 10,
        cost: 15,
        cpa: 15,
      });
      expect(body.rows[2]).toMatchObject({
        impressions: 1,
        clicks: 0,
        conversions: 2,
        view_conversions: 1,
        click_conversions: 1,
        unattributed: 1,
        revenue: 25,
        cost: 15,
      });
      // A purchase sent to two destinations is one conversion, not two.
      expect(body.totals).toMatchObject({
        impressions: 2,
        clicks: 1,
        conversions: 3,
        unattributed: 1,
        revenue: 35,
        cost: 30,
        cpa: 10,
        roas: 1.1667,
      });
    });

    it('R02 by campaign: cost per conversion and ROAS where spend was entered', async () => {
      const { body } = await report('from=2026-11-20&to=2026-11-21&group_by=campaign');
      expect(body.rows).toEqual([
        expect.objectContaining({
          key: 'c1',
          impressions: 1,
          clicks: 1,
          conversions: 2,
          view_conversions: 1,
          click_conversions: 1,
          click_conversion_rate: 1,
          view_conversion_rate: 1,
          revenue: 30,
          cost: 30,
          cpa: 15,
          roas: 1,
        }),
        expect.objectContaining({
          key: 'c2',
          impressions: 1,
          conversions: 1,
          revenue: 5,
          cost: null,
          roas: null,
        }),
        // The purchase no destination credited has no campaign: it is a row of its own.
        expect.objectContaining({ key: '', conversions: 0, unattributed: 1, revenue: 0 }),
      ]);
      // The chart's series comes along; the total counts each purchase once.
      expect(body.days.map((d: any) => [d.key, d.conversions])).toEqual([
        ['2026-11-20', 1],
        ['2026-11-21', 2],
      ]);
      // The totals are the rows' sums: the same unattributed purchase as by day.
      expect(body.totals).toMatchObject({ conversions: 3, unattributed: 1, revenue: 35, cost: 30 });
    });

    it('R03 by creative and by destination', async () => {
      const creative = (await report('from=2026-11-20&to=2026-11-21&group_by=creative')).body;
      const byKey = Object.fromEntries(creative.rows.map((r: any) => [r.key, r]));
      expect(byKey.cr1).toMatchObject({ impressions: 1, conversions: 1, view_conversions: 1 });
      expect(byKey.cr2).toMatchObject({ clicks: 1, conversions: 1, click_conversions: 1 });
      expect(byKey['']).toMatchObject({ impressions: 1, conversions: 1 });
      const dest = (
        await report('from=2026-11-20&to=2026-11-21&group_by=destination&view=platform')
      ).body;
      const byDest = Object.fromEntries(dest.rows.map((r: any) => [r.key, r]));
      expect(byDest.dsp1).toMatchObject({
        impressions: 2,
        clicks: 1,
        conversions: 3,
        unattributed: 1,
      });
      // dsp2 served no ad: it receives the purchases, credits none of them.
      expect(byDest.dsp2).toMatchObject({ impressions: 0, conversions: 0, unattributed: 4 });
      // Deduplicated, each purchase counts once: the uncredited one belongs to no destination.
      const once = (await report('from=2026-11-20&to=2026-11-21&group_by=destination')).body;
      expect(once.view).toBe('deduplicated');
      expect(Object.fromEntries(once.rows.map((r: any) => [r.key, r.conversions]))).toEqual({
        dsp1: 3,
        '': 0,
      });
      expect(once.totals).toMatchObject({ conversions: 3, unattributed: 1 });
      const one = (await report('from=2026-11-20&to=2026-11-21&group_by=day&campaign_id=c2')).body;
      expect(one.totals).toMatchObject({
        impressions: 1,
        conversions: 1,
        revenue: 5,
        unattributed: 0,
      });
    });

    it('R04 CSV export has the same numbers', async () => {
      const res = await fetch(
        `${base}/api/reports?env_id=env_t&from=2026-11-20&to=2026-11-21&group_by=campaign&format=csv`,
        { headers: { authorization: 'Bearer adm' } },
      );
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = (await res.text()).trim().split('\r\n');
      expect(lines[0]).toBe(
        'campaign,impressions,clicks,conversions,view_conversions,click_conversions,unattributed,click_conversion_rate,view_conversion_rate,revenue,cost,cpa,roas,deterministic_conversions,probabilistic_conversions,revenue_by_currency,unconverted_revenue,cost_by_currency,unconverted_cost,unconverted_conversions,unconverted_cost_rows,ratio_note',
      );
      // Both matched by cookie (deterministic), none by IP.
      expect(lines[1]).toBe('c1,1,1,2,1,1,0,1,1,30,30,15,1,2,0,EUR 30,,EUR 30,,0,0,');
      expect(lines.at(-1)).toMatch(/^total,2,1,3,/);
    });

    it('R05 bad queries name the field; no token is 401; the dashboard cookie works', async () => {
      const bad = await report('group_by=week');
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: any) => e.field)).toContain('group_by');
      const backwards = await report('from=2026-11-21&to=2026-11-01');
      expect(backwards.status).toBe(400);
      expect(backwards.body.errors[0].field).toBe('to');
      expect((await fetch(`${base}/api/reports?env_id=env_t`)).status).toBe(401);
      const wrong = await fetch(`${base}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'nope' }),
      });
      expect(wrong.status).toBe(401);
      const login = await fetch(`${base}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'adm' }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
      const { csrf_token } = (await login.json()) as { csrf_token: string };
      expect(login.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
      expect(cookie.split('=')[1]).not.toContain('adm');
      const read = await fetch(`${base}/api/reports?env_id=env_t`, { headers: { cookie } });
      expect(read.status).toBe(200);
      const put = (headers: Record<string, string>) =>
        fetch(`${base}/api/campaign-costs`, {
          method: 'PUT',
          headers: { cookie, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ env_id: 'env_t', campaign_id: 'c9', from: '2026-11-20', cost: 1 }),
        });
      expect((await put({})).status).toBe(403);
      expect((await put({ 'x-csrf-token': csrf_token })).status).toBe(200);
    });
  });
}
