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

// Visits never crowd ad touches out of the attribution lookup (DESIGN §6, issue 23): the
// lookup reads a key's impressions and clicks with their own bound, and its visits apart.
// 210 visits is more than the 200 touches a key's lookup used to read, all kinds together.
const hasPostgres = await postgresAvailable();
const T0 = Date.parse('2026-06-01T10:00:00Z');
const VISITS = 210;

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`touch lookup on ${kind}`, () => {
    let hook: Receiver;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let now = T0;

    beforeAll(async () => {
      hook = await startReceiver(() => 200);
      const opened = await open();
      dispose = opened.dispose;
      const raw = testConfig(`${hook.url}/hook`) as any;
      raw.trust_proxy = true;
      raw.rate_limit = { per_ip: 0, per_key: 0 };
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

    async function impression(imp: string, headers: Record<string, string>) {
      const res = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=${imp}&campaign_id=c1`, {
        headers: { 'user-agent': UA, ...headers },
      });
      expect(res.status).toBe(200);
      await server.services.pipeline.flush();
    }

    /** `VISITS` landings from campaign links, one a minute, each of its own source. */
    async function visits(tag: string, user: (i: number) => Record<string, unknown>) {
      const start = Math.floor(now / 1000);
      now += (VISITS + 2) * 60_000;
      const events = Array.from({ length: VISITS }, (_, i) => ({
        event_name: 'PageView',
        event_id: `${tag}-pv-${i}`,
        event_time: start + 60 + i * 60,
        user: { user_agent: UA, ...user(i) },
        properties: { url: `https://shop.example/?utm_source=news${i}&utm_medium=email` },
      }));
      for (let i = 0; i < events.length; i += 100) {
        const r = await postEvents(base, events.slice(i, i + 100));
        expect(r.body).toMatchObject({ errors: [] });
      }
      await server.services.pipeline.flush();
    }

    async function conversionOf(eventId: string) {
      const { body } = await admin(base, '/api/conversions?env_id=env_t&limit=1000');
      return body.conversions.find((c: { event_id: string }) => c.event_id === eventId);
    }

    async function pathOf(eventId: string) {
      const c = await conversionOf(eventId);
      const { body } = await admin(base, `/api/conversions/${c.conversion_id}/path?env_id=env_t`);
      return body;
    }

    it('TL01 a cookie with more visits than a lookup reads: its purchase is still credited to the impression', async () => {
      const cookie = `${kind}-tl01-cookie`;
      await impression('IMP-TL01', { cookie: `ptid=${cookie}`, 'x-forwarded-for': '198.51.100.1' });
      await visits('tl01', () => ({ anonymous_id: cookie, ip: '198.51.100.1' }));
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'tl01-order',
          event_time: Math.floor(now / 1000),
          user: { anonymous_id: cookie, ip: '198.51.100.1', user_agent: UA },
          properties: { value: 10, currency: 'EUR' },
        },
      ]);
      expect(r.body).toMatchObject({ accepted: 1, errors: [] });
      const c = await conversionOf('tl01-order');
      expect(c.attribution).toMatchObject({ imp_id: 'IMP-TL01', match_key: 'cookie' });
      // The path still shows the impression, and the newest visits after it.
      const path = await pathOf('tl01-order');
      const kinds = path.touches.map((t: { kind: string }) => t.kind);
      expect(path.touches[0]).toMatchObject({ kind: 'impression', touch_id: 'IMP-TL01' });
      expect(kinds.filter((k: string) => k === 'visit').length).toBeGreaterThan(0);
    });

    it('TL02 a shared address with more visitors than a lookup reads: an IP-matched impression still wins', async () => {
      const ip = '203.0.113.50';
      await impression('IMP-TL02', { 'x-forwarded-for': ip });
      // Other people behind the same address land from campaign links.
      await visits('tl02', (i) => ({ anonymous_id: `${kind}-tl02-other-${i}`, ip }));
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'tl02-order',
          event_time: Math.floor(now / 1000),
          user: { anonymous_id: `${kind}-tl02-buyer`, ip, user_agent: UA },
          properties: { value: 10, currency: 'EUR' },
        },
      ]);
      expect(r.body).toMatchObject({ accepted: 1, errors: [] });
      const c = await conversionOf('tl02-order');
      expect(c.attribution).toMatchObject({ imp_id: 'IMP-TL02' });
    });
  });
}
