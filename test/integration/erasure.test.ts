/**
 * Erasure and export (issue 6), on SQLite and on PostgreSQL: a person's impressions, clicks,
 * tag and server events, identity links, conversions and deliveries are exported, then
 * `DELETE /api/subjects` removes them, and a scan of every row of every table of the store
 * finds none of their identifiers, while another person's data is untouched.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/identity.js';
import { admin, postEvents, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { type ScannedRig, scannedRigKinds } from '../helpers/store-scan.js';

const KINDS = await scannedRigKinds();

for (const [kind, makeRig, available] of KINDS) {
  describe.skipIf(!available)(`erasure on ${kind}`, () => {
    let hook: Receiver;
    let rig: ScannedRig;
    /** Every identifier of person A that must not survive. */
    const traces: string[] = [];
    let cookieA = '';

    beforeAll(async () => {
      // The receiver refuses a while, so some of A's deliveries are still pending at erasure.
      hook = await startReceiver((rec) => (JSON.parse(rec.body).event_id === 'ord-a2' ? 503 : 200));
      rig = await makeRig(testConfig(`${hook.url}/hook`));
      const { base } = rig;
      const browser = (ip: string, cookie?: string) => ({
        'user-agent': UA,
        'x-forwarded-for': ip,
        ...(cookie ? { cookie: `ptid=${cookie}` } : {}),
      });
      // Person A: an impression with a user id, a tag purchase landing from a newsletter (a
      // visit), a server purchase with email.
      const imp = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-A1&user_id=u-a`, {
        headers: browser('203.0.113.1'),
      });
      cookieA = /ptid=([^;]+)/.exec(imp.headers.get('set-cookie') ?? '')?.[1] ?? '';
      // What the viewability tag measured of it (issue 24): erased with the impression.
      const seen = 'viewable=1&ttv_ms=1000&max_share=1';
      await fetch(`${base}/v?env_id=env_t&dest_id=dsp1&imp_id=IMP-A1&${seen}`, {
        method: 'POST',
        headers: browser('203.0.113.1', cookieA),
      });
      await fetch(`${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-A1&url=https://shop.example/`, {
        headers: browser('203.0.113.1', cookieA),
        redirect: 'manual',
      });
      await rig.server.services.pipeline.flush();
      await fetch(`${base}/e`, {
        method: 'POST',
        headers: { ...browser('203.0.113.1', cookieA), 'content-type': 'text/plain' },
        body: JSON.stringify({
          event_name: 'Purchase',
          event_id: 'ord-a1',
          env_id: 'env_t',
          user: { anonymous_id: 'anon-a-tag', email: 'Ann@Example.com' },
          properties: {
            value: 1,
            currency: 'EUR',
            url: 'https://shop.example/thanks?order=a1&utm_source=news&utm_medium=email',
          },
        }),
      });
      // A's tag purchase is delivered before the server one that the receiver refuses: a
      // destination's rows go out in order (docs/delivery.md), so ord-a2 backing off would
      // hold ord-a1 behind it whenever both land in one commit.
      await rig.server.services.pipeline.flush();
      await waitFor(() => hook.got.some((r) => JSON.parse(r.body).event_id === 'ord-a1'));
      await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-a2',
          user: { user_id: 'u-a', email: 'ann@example.com', phone: '+33 6 12 34 56 78' },
          properties: { value: 2, currency: 'EUR' },
        },
      ]);
      // Person B, who must survive.
      await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-B1&user_id=u-b`, {
        headers: browser('203.0.113.2'),
      });
      await fetch(`${base}/v?env_id=env_t&dest_id=dsp1&imp_id=IMP-B1&viewable=1&ttv_ms=1000`, {
        method: 'POST',
        headers: browser('203.0.113.2'),
      });
      await rig.server.services.pipeline.flush();
      await postEvents(base, [
        {
          event_name: 'Purchase',
          event_id: 'ord-b1',
          user: { user_id: 'u-b', email: 'bob@example.com' },
          properties: { value: 3, currency: 'EUR' },
        },
      ]);
      await rig.server.services.pipeline.flush();
      traces.push(
        'u-a',
        cookieA,
        'anon-a-tag',
        sha256Hex('ann@example.com'),
        sha256Hex('33612345678'),
        'IMP-A1',
        'CLK-A1',
        'ord-a1',
        'ord-a2',
      );
    });

    afterAll(async () => {
      await rig?.close();
      await hook?.close();
    });

    it('X01 export returns what we hold about the person', async () => {
      const res = await admin(rig.base, '/api/subjects/export?env_id=env_t&email=ann@example.com');
      expect(res.status).toBe(200);
      const ids = res.body.events.map((e: { event: { event_id: string } }) => e.event.event_id);
      expect(ids.sort()).toEqual(['ord-a1', 'ord-a2']);
      const touches = res.body.touches.map((t: { kind: string; touch_id: string }) =>
        t.kind === 'visit' ? 'visit' : t.touch_id,
      );
      expect(touches.sort()).toEqual(['CLK-A1', 'IMP-A1', 'visit']);
      expect(res.body.anonymous_ids).toEqual(expect.arrayContaining([cookieA, 'anon-a-tag']));
      expect(res.body.conversions.length).toBe(2);
      expect(JSON.stringify(res.body)).not.toContain('ord-b1');
    });

    it('X02 DELETE erases every row of the person, reports counts, and leaves the other person', async () => {
      const before = (await rig.scan()).join('\n');
      for (const t of traces) expect(before).toContain(t);
      const res = await admin(
        rig.base,
        '/api/subjects?env_id=env_t&email=ann@example.com',
        'DELETE',
      );
      expect(res.status).toBe(200);
      expect(res.body.deleted).toMatchObject({ events: 2, touches: 3, conversions: 2 });
      expect(res.body.deleted.identity_links).toBeGreaterThan(0);
      expect(res.body.deleted.outbox).toBe(2);
      expect(res.body.deleted.impression_views).toBe(1);
      const after = await rig.scan();
      for (const t of traces) expect(after.filter((row) => row.includes(t))).toEqual([]);
      const text = after.join('\n');
      for (const kept of ['u-b', 'IMP-B1', 'ord-b1', sha256Hex('bob@example.com')])
        expect(text).toContain(kept);
    });

    it('X04 a person named by email is found through the user id their server event carries: the touches under it go too', async () => {
      const { base } = rig;
      // No browser id in the server event, so no identity link ties the email to anything.
      const imp = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-C1&user_id=u-c`, {
        headers: { 'user-agent': UA, 'x-forwarded-for': '203.0.113.3' },
      });
      const cookieC = /ptid=([^;]+)/.exec(imp.headers.get('set-cookie') ?? '')?.[1] ?? '';
      await rig.server.services.pipeline.flush();
      await postEvents(base, [
        {
          event_name: 'Lead',
          event_id: 'lead-c1',
          user: { user_id: 'u-c', email: 'cid@example.com' },
        },
      ]);
      const exported = await admin(base, '/api/subjects/export?env_id=env_t&email=cid@example.com');
      expect(exported.body.touches.map((t: { touch_id: string }) => t.touch_id)).toEqual([
        'IMP-C1',
      ]);
      const res = await admin(base, '/api/subjects?env_id=env_t&email=cid@example.com', 'DELETE');
      expect(res.body.deleted).toMatchObject({ events: 1, touches: 1 });
      const after = (await rig.scan()).join('\n');
      for (const t of ['u-c', 'IMP-C1', cookieC, 'lead-c1', sha256Hex('cid@example.com')])
        expect(after).not.toContain(t);
      expect(after).toContain('u-b');
    });

    it('X03 a request naming nobody is a 400 naming the field; an unknown env a 404', async () => {
      const none = await admin(rig.base, '/api/subjects?env_id=env_t', 'DELETE');
      expect(none.status).toBe(400);
      expect(none.body.errors[0].field).toBe('user_id');
      const bad = await admin(rig.base, '/api/subjects?env_id=env_t&email=nope', 'DELETE');
      expect(bad.body.errors[0].field).toBe('email');
      expect((await admin(rig.base, '/api/subjects?env_id=zz&user_id=x', 'DELETE')).status).toBe(
        404,
      );
    });
  });
}
