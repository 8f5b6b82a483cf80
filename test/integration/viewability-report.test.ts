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
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// Issue 24: GET /api/reports/viewability on both stores — measurable and viewable rates per
// campaign, placement and creative, and view-through conversions from viewable impressions
// beside all of them.
const hasPostgres = await postgresAvailable();
const DAY = Date.parse('2026-03-10T00:00:00Z') / 1000;

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`viewability report on ${kind}`, () => {
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let nowS = DAY + 3600;

    beforeAll(async () => {
      const opened = await open();
      dispose = opened.dispose;
      ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir(), {
        store: opened.store,
        nowMs: () => nowS * 1000,
      }));
    });
    afterAll(async () => {
      await server?.close();
      await dispose?.();
    });

    /** One browser's impression: `tag` sends the viewability tag's signals; its ptid. */
    async function impression(
      imp: string,
      ids: string,
      tag: 'viewable' | 'not_viewable' | 'unmeasurable' | 'pixel',
      ua = UA,
    ) {
      const q = `env_id=env_t&dest_id=dsp1&imp_id=${imp}&${ids}`;
      const h = { 'user-agent': ua };
      const first =
        tag === 'pixel'
          ? await fetch(`${base}/i?${q}`, { headers: h })
          : await fetch(`${base}/v?${q}&served=1&measurable=${tag === 'unmeasurable' ? 0 : 1}`, {
              method: 'POST',
              headers: h,
            });
      const verdict =
        tag === 'viewable'
          ? 'viewable=1&ttv_ms=1000&max_share=1'
          : tag === 'not_viewable'
            ? 'measurable=1&viewable=0&max_share=0.2'
            : null;
      if (verdict) await fetch(`${base}/v?${q}&${verdict}`, { method: 'POST', headers: h });
      return /ptid=([^;]+)/.exec(first.headers.get('set-cookie') ?? '')?.[1] ?? '';
    }

    async function buy(id: string, ptid: string) {
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: id,
          user: { anonymous_id: ptid },
          properties: { value: 5, currency: 'EUR' },
        },
      ]);
      expect(r.body.accepted).toBe(1);
    }

    const report = async (q: string) => {
      const { status, body } = await admin(
        base,
        `/api/reports/viewability?env_id=env_t&from=2026-03-10&to=2026-03-10&${q}`,
      );
      expect(status).toBe(200);
      return body;
    };

    it('VR01 rates and view-through conversions per campaign, placement, creative and in total', async () => {
      const c1 = 'campaign_id=c1&placement_id=p1&creative_id=cr1';
      const a = await impression('IMP-A', c1, 'viewable');
      const b = await impression('IMP-B', c1, 'not_viewable');
      await impression('IMP-C', c1, 'pixel');
      await impression('IMP-D', c1, 'unmeasurable');
      const e = await impression(
        'IMP-E',
        'campaign_id=c2&placement_id=p2&creative_id=cr2',
        'viewable',
      );
      // Bots never run the tag: their impressions are not served ones here.
      await impression('IMP-BOT', c1, 'pixel', 'Googlebot/2.1 (+http://www.google.com/bot.html)');
      await server.services.pipeline.flush();
      nowS += 600;
      await buy('ord-a', a);
      await buy('ord-b', b);
      await buy('ord-e', e);
      // The next day: outside the report's range.
      nowS = DAY + 86_400 + 60;
      await impression('IMP-LATER', c1, 'viewable');
      await server.services.pipeline.flush();

      const byCampaign = await report('group_by=campaign');
      const row = (r: { rows: Array<{ key: string }> }, key: string) =>
        r.rows.find((x) => x.key === key);
      const c1Row = {
        served: 4,
        measurable: 2,
        viewable: 1,
        measurable_rate: 0.5,
        viewable_rate: 0.5,
        viewable_share_of_served: 0.25,
        view_conversions: 2,
        viewable_view_conversions: 1,
        viewable_conversion_share: 0.5,
      };
      const c2Row = {
        served: 1,
        measurable: 1,
        viewable: 1,
        view_conversions: 1,
        viewable_view_conversions: 1,
      };
      expect(row(byCampaign, 'c1')).toEqual({ key: 'c1', ...c1Row });
      expect(row(byCampaign, 'c2')).toMatchObject(c2Row);
      expect(byCampaign.rows.map((r: { key: string }) => r.key)).toEqual(['c1', 'c2']);
      expect(byCampaign.totals).toMatchObject({
        served: 5,
        measurable: 3,
        viewable: 2,
        measurable_rate: 0.6,
        viewable_rate: 0.6667,
        view_conversions: 3,
        viewable_view_conversions: 2,
      });
      const byPlacement = await report('group_by=placement');
      expect(row(byPlacement, 'p1')).toMatchObject(c1Row);
      expect(row(byPlacement, 'p2')).toMatchObject(c2Row);
      const byCreative = await report('group_by=creative');
      expect(row(byCreative, 'cr1')).toMatchObject(c1Row);
      const total = await report('group_by=total');
      expect(total.rows).toEqual([expect.objectContaining({ key: '', served: 5, viewable: 2 })]);
      const oneCampaign = await report('group_by=placement&campaign_id=c2');
      expect(oneCampaign.rows.map((r: { key: string }) => r.key)).toEqual(['p2']);
      const byDay = await report('group_by=day');
      expect(byDay.rows).toEqual([expect.objectContaining({ key: '2026-03-10', served: 5 })]);
    });

    it('VR02 asks for a known grouping and the admin token', async () => {
      const bad = await admin(base, '/api/reports/viewability?env_id=env_t&group_by=channel');
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('group_by');
      expect((await admin(base, '/api/reports/viewability?env_id=nope')).status).toBe(404);
      expect((await fetch(`${base}/api/reports/viewability?env_id=env_t`)).status).toBe(401);
    });
  });
}
