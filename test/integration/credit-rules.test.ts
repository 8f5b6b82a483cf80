import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Received, type Receiver, startReceiver } from '../helpers/receiver.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// Issue 19 §1: deterministic matches beat probabilistic ones, end to end — pixels and
// clicks from browsers, a purchase through /v1/events, the webhook, /api/conversions, the
// debugger and the reports. Every request comes from 127.0.0.1: one shared office address.
const hasPostgres = await postgresAvailable();
const T_MS = Date.parse('2026-11-20T09:00:00Z');
const H_MS = 3_600_000;
const SAFARI =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

function ptidOf(res: Response): string {
  const m = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  if (!m) throw new Error('no ptid cookie');
  return m[1];
}

function purchase(event_id: string, user: Record<string, unknown>) {
  return {
    event_name: 'Purchase',
    event_id,
    user: { ip: '127.0.0.1', ...user },
    properties: { value: 40, currency: 'EUR' },
  };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`attribution classes on ${kind}`, () => {
    let hook: Receiver;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let now = T_MS;

    const bodyOf = async (event_id: string) => {
      const got = await waitFor(() =>
        hook.got.find((r) => JSON.parse(r.body).event_id === event_id),
      );
      return JSON.parse((got as Received).body);
    };

    beforeAll(async () => {
      hook = await startReceiver(() => 200);
      const opened = await open();
      dispose = opened.dispose;
      const raw = testConfig(`${hook.url}/hook`);
      raw.environments[0].destinations.push({
        ...raw.environments[0].destinations[0],
        id: 'dsp2',
        events: ['Lead'],
        click_window: '12h',
        probabilistic_click_window: '3d',
      } as (typeof raw.environments)[0]['destinations'][0]);
      ({ server, base } = await startPixeltrail(raw, tempDir(), {
        store: opened.store,
        nowMs: () => now,
      }));
    });

    afterAll(async () => {
      await server?.close();
      await dispose?.();
      await hook?.close();
    });

    it("CR01 browser D's own impression, not browser E's click from the same office IP, gets the credit", async () => {
      // E (Safari) clicks; an hour later D (Chrome, its own cookie) sees an impression, then buys.
      now = T_MS;
      await fetch(
        `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-E1&campaign_id=c1&url=https%3A%2F%2Fshop.example%2F`,
        { headers: { 'user-agent': SAFARI }, redirect: 'manual' },
      );
      now = T_MS + H_MS;
      const d = ptidOf(
        await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-D1&campaign_id=c2`, {
          headers: { 'user-agent': CHROME },
        }),
      );
      await server.services.pipeline.flush();
      now = T_MS + 2 * H_MS;
      const r = await postEvents(base, [
        purchase('ord-D', { anonymous_id: d, user_agent: CHROME }),
      ]);
      expect(r.body.accepted).toBe(1);

      const attribution = {
        type: 'view',
        imp_id: 'IMP-D1',
        click_id: null,
        match_key: 'cookie',
        match_type: 'deterministic',
        window: '1d',
      };
      expect((await bodyOf('ord-D')).attribution).toMatchObject(attribution);
      const listed = await admin(base, '/api/conversions?env_id=env_t');
      const conv = listed.body.conversions.find((c: any) => c.event_id === 'ord-D');
      expect(conv.attribution).toMatchObject(attribution);

      const events = await admin(base, '/api/events?env_id=env_t&event_name=Purchase');
      const pk = events.body.events.find((e: any) => e.event.event_id === 'ord-D').pk;
      const trail = await admin(base, `/api/events/${pk}`);
      const x = trail.body.conversions[0].explanation;
      expect(x.summary).toBe(
        'credited impression IMP-D1 via cookie, deterministic (1d view window)',
      );
      expect(x.passed_over).toEqual([
        expect.objectContaining({
          touch_id: 'CLK-E1',
          match_type: 'probabilistic',
          reason:
            'click CLK-E1 via ip: an ip click ranks below the credited impression IMP-D1 via ' +
            'cookie (deterministic impression)',
        }),
      ]);
    });

    it('CR02 a browser with no cookie is matched by IP only inside the 1d probabilistic click window', async () => {
      now = T_MS + 3 * H_MS;
      await postEvents(base, [purchase('ord-F1', { user_agent: FIREFOX })]);
      expect((await bodyOf('ord-F1')).attribution).toMatchObject({
        click_id: 'CLK-E1',
        match_key: 'ip',
        match_type: 'probabilistic',
        window: '1d',
      });
      // Two days after E's click: its 7d click window would still hold it, the 1d one does not.
      now = T_MS + 50 * H_MS;
      await postEvents(base, [purchase('ord-F2', { user_agent: FIREFOX })]);
      const listed = await admin(base, '/api/conversions?env_id=env_t');
      const f2 = listed.body.conversions.find((c: any) => c.event_id === 'ord-F2');
      expect(f2.attribution).toBeNull();
      expect(f2.reason).toMatch(/via ip was 49 h before, outside the 1d probabilistic view window/);
    });

    it('CR03 reports split attributed conversions into deterministic and probabilistic', async () => {
      const { body } = await admin(
        base,
        '/api/reports?env_id=env_t&from=2026-11-20&to=2026-11-22&group_by=day',
      );
      expect(body.totals).toMatchObject({
        conversions: 2,
        deterministic_conversions: 1,
        probabilistic_conversions: 1,
        unattributed: 1,
      });
    });

    it('CR04 probabilistic windows are set like the others and clamped with a note', async () => {
      const shown = await admin(base, '/api/destinations/env_t/dsp2');
      expect(shown.body).toMatchObject({
        click_window: '12h',
        probabilistic_click_window: '3d',
        probabilistic_view_window: '1d',
        notes: ['probabilistic_click_window 3d is longer than click_window 12h: 12h is used'],
      });
      const edited = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', {
        probabilistic_click_window: '6h',
      });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ probabilistic_click_window: '6h', notes: [] });
      const bad = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', {
        probabilistic_view_window: 'soon',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: any) => e.field)).toEqual(['probabilistic_view_window']);

      // dsp1 now credits an IP-only click for 6 h only.
      now = T_MS + 60 * H_MS;
      await fetch(
        `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-E2&url=https%3A%2F%2Fshop.example%2F`,
        { headers: { 'user-agent': SAFARI }, redirect: 'manual' },
      );
      await server.services.pipeline.flush();
      now = T_MS + 67 * H_MS;
      await postEvents(base, [purchase('ord-F3', { user_agent: FIREFOX })]);
      const listed = await admin(base, '/api/conversions?env_id=env_t');
      const f3 = listed.body.conversions.find((c: any) => c.event_id === 'ord-F3');
      expect(f3.reason).toBe(
        'click CLK-E2 via ip was 7.0 h before, outside the 6h probabilistic click window',
      );
    });

    it('CR05 a browser copy after the server copy moves the credit from the shared IP to its own cookie', async () => {
      now = T_MS + 100 * H_MS;
      const g = ptidOf(
        await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-G1`, {
          headers: { 'user-agent': CHROME },
        }),
      );
      now += 10 * 60_000;
      await fetch(
        `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-H1&url=https%3A%2F%2Fshop.example%2F`,
        { headers: { 'user-agent': SAFARI }, redirect: 'manual' },
      );
      await server.services.pipeline.flush();
      now += H_MS;
      const event_time = Math.floor(now / 1000);
      // The shop's backend first: a user id the pixels never saw, the office address.
      await postEvents(base, [
        { ...purchase('ord-G', { user_id: 'u-G', user_agent: FIREFOX }), event_time },
      ]);
      const conversion = async () =>
        (await admin(base, '/api/conversions?env_id=env_t')).body.conversions.find(
          (c: any) => c.event_id === 'ord-G',
        );
      expect((await conversion()).attribution).toMatchObject({
        click_id: 'CLK-H1',
        match_key: 'ip',
        match_type: 'probabilistic',
      });
      // Then the tag's copy of the same purchase, with the browser's own cookie.
      now += 5000;
      const res = await fetch(`${base}/e`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          origin: 'http://shop.test',
          'user-agent': CHROME,
          cookie: `ptid=${g}`,
        },
        body: JSON.stringify({
          env_id: 'env_t',
          event_name: 'Purchase',
          event_id: 'ord-G',
          event_time,
          user: { anonymous_id: g },
        }),
      });
      expect(res.status).toBe(204);
      await server.services.pipeline.flush();
      // The cookie, seen with the user id, counts as the user id (DESIGN §6 identity links).
      expect((await conversion()).attribution).toMatchObject({
        type: 'view',
        imp_id: 'IMP-G1',
        match_key: 'user_id',
        match_type: 'deterministic',
      });
    });
  });
}
