import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const T_MS = Date.parse('2026-11-20T12:00:00Z');
const H_MS = 3_600_000;

/** An SSE stream read in the background; `items` fills as events arrive. */
async function openStream(url: string) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { authorization: 'Bearer adm' }, signal: ctl.signal });
  const items: Array<{ event: string; data: any }> = [];
  let text = '';
  const reader = res.body!.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
        let cut = text.indexOf('\n\n');
        while (cut >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) items.push({ event, data: JSON.parse(data) });
          cut = text.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  type Item = (typeof items)[number];
  /** The first item passing `pred`, once it has arrived. */
  const first = async (pred: (i: Item) => boolean): Promise<Item> =>
    (await waitFor(() => items.find(pred))) as Item;
  return { res, items, first, close: () => ctl.abort() };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`live debugger API on ${kind}`, () => {
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

    it('L01 the stream shows pixel touches and server events as they commit, filtered', async () => {
      const pixels = await openStream(`${base}/api/live?env_id=env_t&source=pixel`);
      const server_ = await openStream(`${base}/api/live?source=server&event_name=Lead`);
      expect(pixels.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-L1&campaign_id=c1`, {
        headers: { 'user-agent': UA },
      });
      await postEvents(base, [
        { event_name: 'Lead', event_id: 'lead-1', user: { ip: '198.51.100.1' } },
        { event_name: 'Purchase', event_id: 'skip-1', user: { ip: '198.51.100.1' } },
      ]);
      const touch = await pixels.first((i) => i.event === 'touch');
      expect(touch.data.touch).toMatchObject({ touch_id: 'IMP-L1', kind: 'impression' });
      const lead = await server_.first((i) => i.event === 'event');
      expect(lead.data).toMatchObject({
        duplicate: false,
        event: { event_name: 'Lead', event_id: 'lead-1', source: 'server' },
      });
      expect(lead.data.diagnostics).toContain(
        'weak match keys only: without a user agent, IP matches are IP-only',
      );
      // The Purchase went by too, and the filters kept it out of both streams.
      await waitFor(
        async () => (await admin(base, '/api/events?event_name=Purchase')).body.events.length > 0,
      );
      expect(server_.items.map((i) => i.data.event?.event_name)).toEqual(['Lead']);
      expect(pixels.items.every((i) => i.event === 'touch')).toBe(true);
      pixels.close();
      server_.close();
    });

    it('L02 an unattributed purchase explains why: the touch, its key, the window it missed', async () => {
      // 100 h after L01's impression from the same IP, so that one is out of every window too.
      const later = T_MS + 100 * H_MS;
      now = later - 26 * H_MS;
      await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-9&campaign_id=c1`, {
        headers: { 'user-agent': `${UA} person-9` },
      });
      await server.services.pipeline.flush();
      now = later;
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-9',
          user: { ip: '127.0.0.1', user_agent: `${UA} person-9` },
          properties: { value: 12 },
        },
      ]);
      expect(r.body.accepted).toBe(1);
      const listed = await admin(base, '/api/events?env_id=env_t&event_name=Purchase&limit=5');
      const pk = listed.body.events.find((e: any) => e.event.event_id === 'ord-9').pk;
      const { status, body } = await admin(base, `/api/events/${pk}`);
      expect(status).toBe(200);
      expect(body.diagnostics).toContain('value without currency');
      const [conv] = body.conversions;
      expect(conv.attribution).toBeNull();
      expect(conv.explanation.summary).toBe(
        'impression IMP-9 via ip+ua was 26 h before, outside the 1d probabilistic view window',
      );
      expect(conv.explanation.by_key[0]).toMatchObject({
        match_key: 'ip+ua',
        touches: [{ touch_id: 'IMP-9', verdict: 'outside_window' }],
      });
      expect(conv.explanation.missing_keys).toContain('cookie');
      // Unattributed conversions are not sent to a destination that wants attributed ones.
      expect(body.deliveries).toEqual([]);
      now = T_MS;
    });

    it('L03 test mode: stored, attributed and shown, never delivered nor reported', async () => {
      const stream = await openStream(`${base}/api/live?test_code=TEST42`);
      await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-T&campaign_id=ctest`, {
        headers: { 'user-agent': `${UA} tester` },
      });
      await server.services.pipeline.flush();
      const r = await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-test',
          test_event_code: 'TEST42',
          user: { ip: '127.0.0.1', user_agent: `${UA} tester` },
          properties: { value: 99, currency: 'EUR' },
        },
      ]);
      expect(r.body.accepted).toBe(1);
      const seen = await stream.first((i) => i.event === 'event');
      expect(seen.data.event.test_code).toBe('TEST42');
      const { body } = await admin(base, `/api/events/${seen.data.pk}`);
      expect(body.conversions[0]).toMatchObject({ test: true, attribution: { imp_id: 'IMP-T' } });
      expect(body.deliveries).toEqual([]);
      const report = await admin(
        base,
        '/api/reports?env_id=env_t&group_by=campaign&from=2026-11-19&to=2026-11-21',
      );
      expect(report.body.rows.find((row: any) => row.key === 'ctest')).toMatchObject({
        impressions: 1,
        conversions: 0,
        revenue: 0,
      });
      stream.close();
    });

    it('L04 a duplicate is shown as one, pointing at the first copy', async () => {
      const stream = await openStream(`${base}/api/live?event_name=Signup`);
      const ev = { event_name: 'Signup', event_id: 'sign-1', user: { user_id: 'u1' } };
      await postEvents(base, [ev]);
      await postEvents(base, [{ ...ev, user: { user_id: 'u1', email: 'a@b.example' } }]);
      await waitFor(() => stream.items.length >= 2);
      const both = stream.items;
      expect(both.map((i) => i.data.duplicate)).toEqual([false, true]);
      expect(both[1].data.pk).toBe(both[0].data.pk);
      const { body } = await admin(base, `/api/events/${both[0].data.pk}`);
      expect(body.event.duplicate_count).toBe(1);
      stream.close();
    });

    it('L05 pixel answers carry their warnings in X-Pixeltrail-Warnings', async () => {
      const res = await fetch(`${base}/p?env_id=env_t&ev=Purchase&eid=px-1&value=5`, {
        headers: { 'user-agent': UA },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/gif');
      expect(res.headers.get('x-pixeltrail-warnings')).toBe('value without currency');
      const bad = await fetch(`${base}/p?env_id=env_t&ev=Purchase&value=abc`, {
        headers: { 'user-agent': UA },
      });
      expect(bad.headers.get('x-pixeltrail-warnings')).toBe('properties.value must be a number');
      await fetch(`${base}/p?env_id=env_t&ev=Lead&eid=px-t&test_code=PXTEST`, {
        headers: { 'user-agent': UA },
      });
      const tested = await waitFor(
        async () => (await admin(base, '/api/events?test_code=PXTEST')).body.events[0],
      );
      expect(tested.event).toMatchObject({
        event_id: 'px-t',
        source: 'pixel',
        test_code: 'PXTEST',
      });
      expect((await admin(base, '/api/events/nope')).status).toBe(404);
      expect((await fetch(`${base}/api/live`)).status).toBe(401);
    });

    it('L06 health: per source and destination, numbers and a light with its reason', async () => {
      const { status, body } = await admin(base, '/api/health?env_id=env_t');
      expect(status).toBe(200);
      const server_ = body.sources.find((x: any) => x.source === 'server');
      expect(server_.events).toBeGreaterThan(0);
      expect(server_.match_quality.sample).toBe(server_.events);
      expect(['green', 'amber', 'red']).toContain(server_.light);
      expect(body.touches.count).toBeGreaterThan(0);
      const dsp1 = body.destinations.find((x: any) => x.dest_id === 'dsp1');
      expect(dsp1).toMatchObject({ type: 'webhook', light: expect.any(String) });
      expect(dsp1.conversions).toBeGreaterThan(0);
      expect((await admin(base, '/api/health')).status).toBe(400);
    });
  });
}
