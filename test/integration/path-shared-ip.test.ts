import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { admin, postEvents, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// DESIGN §6 for multi-touch paths: a shared office or carrier IP never moves credit away from
// a person's own cookie-matched touches. Every request comes from 127.0.0.1, one office
// address shared by two browsers.
const hasPostgres = await postgresAvailable();
const T_MS = Date.parse('2026-11-20T09:00:00Z');
const H_MS = 3_600_000;
const SAFARI =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

function ptidOf(res: Response): string {
  const m = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  if (!m) throw new Error('no ptid cookie');
  return m[1];
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`shared-IP paths on ${kind}`, () => {
    let hook: Receiver;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let now = T_MS;

    beforeAll(async () => {
      hook = await startReceiver(() => 200);
      const opened = await open();
      dispose = opened.dispose;
      ({ server, base } = await startPixeltrail(testConfig(`${hook.url}/hook`), tempDir(), {
        store: opened.store,
        nowMs: () => now,
      }));
    });

    afterAll(async () => {
      await server?.close();
      await dispose?.();
      await hook?.close();
    });

    it("PS01 person B's ad click at A's office IP is not in A's path nor credited by linear", async () => {
      // A (Chrome, its own cookie) sees campaign cA; an hour later B (Safari) clicks cB.
      const a = ptidOf(
        await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-A&campaign_id=cA`, {
          headers: { 'user-agent': CHROME },
        }),
      );
      now = T_MS + H_MS;
      await fetch(
        `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-B&campaign_id=cB&url=https%3A%2F%2Fshop.example%2F`,
        { headers: { 'user-agent': SAFARI }, redirect: 'manual' },
      );
      await server.services.pipeline.flush();
      now = T_MS + 2 * H_MS;
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-A',
          user: { anonymous_id: a, ip: '127.0.0.1', user_agent: CHROME },
          properties: { value: 40, currency: 'EUR' },
        },
      ]);
      expect(r.body.accepted).toBe(1);

      const listed = await admin(base, '/api/conversions?env_id=env_t');
      const id = listed.body.conversions.find(
        (c: { event_id: string }) => c.event_id === 'ord-A',
      ).conversion_id;
      const path = await admin(base, `/api/conversions/${id}/path?env_id=env_t`);
      expect(path.status).toBe(200);
      expect(path.body.touches).toEqual([
        expect.objectContaining({ touch_id: 'IMP-A', campaign_id: 'cA', match_key: 'cookie' }),
      ]);

      const linear = await admin(
        base,
        '/api/reports/attribution?env_id=env_t&model=linear&by=campaign' +
          '&from=2026-11-19&to=2026-11-21',
      );
      expect(linear.status).toBe(200);
      expect(linear.body.rows).toEqual([
        expect.objectContaining({ campaign_id: 'cA', conversions: 1, revenue: 40 }),
      ]);
    });

    it("PS02 a bot's impression carrying the buyer's user id is no step of the buyer's path", async () => {
      now = T_MS + 3 * H_MS;
      await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-U&campaign_id=cU&user_id=u-9`, {
        headers: { 'user-agent': CHROME },
      });
      // A link scanner fetching the same creative for the same user, later: stored, flagged.
      await fetch(
        `${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-BOT&campaign_id=cBot&user_id=u-9`,
        {
          headers: {
            'user-agent':
              'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
          },
        },
      );
      await server.services.pipeline.flush();
      now = T_MS + 4 * H_MS;
      await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-U',
          user: { user_id: 'u-9' },
          properties: { value: 10, currency: 'EUR' },
        },
      ]);
      const listed = await admin(base, '/api/conversions?env_id=env_t');
      const id = listed.body.conversions.find(
        (c: { event_id: string }) => c.event_id === 'ord-U',
      ).conversion_id;
      const path = await admin(base, `/api/conversions/${id}/path?env_id=env_t`);
      expect(path.body.touches.map((t: { touch_id: string }) => t.touch_id)).toEqual(['IMP-U']);
    });
  });
}
