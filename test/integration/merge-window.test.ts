import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// Issue 20 §1 on a stepped clock: the browser's and the server's copies of one purchase reach
// Meta as one merged event, sent when the destination's merge window has passed; before that
// a worker round claims nothing (a counter, not a sleep).

const T0 = Date.now();
const FBP = 'fb.1.1558571054389.1098115397';
const FBC = 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890';
/** SHA-256 of `test@example.com`. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const URL = 'https://shop.example/thanks';

let now = T0;
const clock = () => now;
let running: Array<{ server: Server; receivers: Receiver[] }> = [];
afterEach(async () => {
  for (const r of running) {
    await r.server.close();
    for (const x of r.receivers) await x.close();
  }
  running = [];
  now = T0;
});

const OK = { status: 200, body: { events_received: 1, messages: [], fbtrace_id: 'x' } };

function config(destinations: Array<Record<string, unknown>>) {
  return {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Merge shop',
        write_key: 'wk_t',
        allowed_origins: ['http://shop.test'],
        destinations: destinations.map((d) => ({
          attributed_only: false,
          merge_window: '30s',
          retry: { base_delay: '100ms' },
          timeout: '2s',
          ...d,
        })),
      },
    ],
  };
}

const metaDest = (url: string, over: Record<string, unknown> = {}) => ({
  id: 'fb',
  type: 'meta',
  pixel_id: '1234567890',
  access_token: 'EAAB-token',
  base_url: url,
  ...over,
});

async function start(dest: Record<string, unknown> = {}, dataDir = tempDir(), meta?: Receiver) {
  const platform = meta ?? (await startReceiver(() => OK));
  const { server, base } = await startPixeltrail(config([metaDest(platform.url, dest)]), dataDir, {
    nowMs: clock,
  });
  running.push({ server, receivers: [platform] });
  return { server, base, meta: platform, dataDir };
}

/** The tag's beacon: the cookie, Meta's browser ids and the page, from the shopper's browser. */
async function beacon(base: string, eventId: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${base}/e`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: 'http://shop.test', 'user-agent': UA },
    body: JSON.stringify({
      env_id: 'env_t',
      event_name: 'Purchase',
      event_id: eventId,
      user: { anonymous_id: 'anon-mw-1234', fbp: FBP, fbc: FBC },
      properties: { value: 49.9, currency: 'EUR', url: URL },
      ...extra,
    }),
  });
  expect(res.status).toBe(204);
}

/** The shop's backend copy: e-mail and user id, no page, no browser ids. */
const serverCopy = (eventId: string, extra: Record<string, unknown> = {}) => ({
  event_name: 'Purchase',
  event_id: eventId,
  env_id: 'env_t',
  user: { email: 'Test@Example.com', user_id: 'u42', ip: '203.0.113.9' },
  properties: { value: 49.9, currency: 'EUR' },
  ...extra,
});

async function outbox(server: Server) {
  return server.services.store.listDeliveries({ env_id: 'env_t', limit: 10 });
}

/** The first event Meta received, once it has. */
async function firstEvent(meta: Receiver) {
  await waitFor(() => meta.got.length > 0);
  return JSON.parse(meta.got[0].body).data[0];
}

/** One worker round at the clock's time; the rows it claimed. */
const round = (server: Server) => server.services.worker.drainOnce();

describe('merge window (issue 20 §1)', () => {
  it('MW02 browser copy, then the server copy half a second later: Meta gets one event with both', async () => {
    const { server, base, meta } = await start();
    await beacon(base, 'ord-mw2');
    await server.services.pipeline.flush();
    now = T0 + 500;
    expect((await postEvents(base, [serverCopy('ord-mw2')])).body).toMatchObject({
      duplicates: 1,
    });
    const [row] = await outbox(server);
    expect(row).toMatchObject({ status: 'pending', next_attempt_at_ms: T0 + 30_000 });
    now = T0 + 29_999;
    expect(await round(server)).toBe(0);
    expect(meta.got).toHaveLength(0);

    now = T0 + 30_000;
    server.services.worker.wake();
    const event = await firstEvent(meta);
    expect(event).toMatchObject({
      event_id: 'ord-mw2',
      action_source: 'website',
      event_source_url: URL,
    });
    expect(event.user_data).toMatchObject({
      em: [EMAIL_SHA],
      fbp: FBP,
      fbc: FBC,
      client_ip_address: '127.0.0.1',
      client_user_agent: UA,
    });
    expect(event.user_data.external_id).toHaveLength(1);
    await waitFor(async () => (await outbox(server))[0].status === 'delivered');
    expect(await round(server)).toBe(0);
    expect(meta.got).toHaveLength(1);
  });

  it('MW03 server copy first, then the browser copy: the page, fbp and fbc still reach Meta', async () => {
    const { server, base, meta } = await start();
    await postEvents(base, [serverCopy('ord-mw3')]);
    now = T0 + 800;
    await beacon(base, 'ord-mw3');
    await server.services.pipeline.flush();
    expect(await round(server)).toBe(0);
    now = T0 + 30_000;
    server.services.worker.wake();
    const event = await firstEvent(meta);
    expect(event).toMatchObject({ action_source: 'website', event_source_url: URL });
    expect(event.user_data).toMatchObject({ em: [EMAIL_SHA], fbp: FBP, fbc: FBC });
  });

  it('MW04 the wait is on the outbox row: a restart inside the window still sends once, merged', async () => {
    const first = await start();
    await beacon(first.base, 'ord-mw4');
    await first.server.services.pipeline.flush();
    now = T0 + 1000;
    await postEvents(first.base, [serverCopy('ord-mw4')]);
    await first.server.close();
    running = [];

    now = T0 + 30_000;
    const second = await start({}, first.dataDir, first.meta);
    const event = await firstEvent(second.meta);
    expect(event.user_data).toMatchObject({ em: [EMAIL_SHA], fbp: FBP });
    await waitFor(async () => (await outbox(second.server))[0].status === 'delivered');
    expect(second.meta.got).toHaveLength(1);
  });

  it('MW05 merge_window 0 sends the first copy at once, as it came', async () => {
    const { server, base, meta } = await start({ merge_window: 0 });
    await beacon(base, 'ord-mw5');
    await server.services.pipeline.flush();
    const event = await firstEvent(meta);
    expect(event.user_data.em).toBeUndefined();
    expect(event.user_data.fbp).toBe(FBP);
  });

  it('MW12 merge_window auto: a shop whose tag does not send Purchase gets its server copies out at once', async () => {
    const { server, base, meta } = await start({ merge_window: 'auto' });
    await postEvents(base, [serverCopy('ord-mw12')]);
    const [row] = await outbox(server);
    // Nothing to wait for: no browser copy of a Purchase has ever come from this shop.
    expect(row.next_attempt_at_ms).toBeLessThan(T0 + 1_000);
    const event = await firstEvent(meta);
    expect(event.user_data.em).toEqual([EMAIL_SHA]);
  });

  it('MW13 merge_window auto: once the tag sends Purchase too, a server copy waits 30 s for its browser copy and both go out merged', async () => {
    const { server, base, meta } = await start({ merge_window: 'auto' });
    await beacon(base, 'ord-mw13-earlier');
    await server.services.pipeline.flush();
    await waitFor(() => meta.got.length === 1);
    now = T0 + 60_000;
    await postEvents(base, [serverCopy('ord-mw13')]);
    const row = (await outbox(server)).find((r) => r.next_attempt_at_ms > now);
    expect(row?.next_attempt_at_ms).toBe(T0 + 90_000);
    now = T0 + 61_000;
    await beacon(base, 'ord-mw13');
    await server.services.pipeline.flush();
    expect(await round(server)).toBe(0);
    now = T0 + 90_000;
    server.services.worker.wake();
    await waitFor(() => meta.got.length === 2);
    const event = JSON.parse(meta.got[1].body).data[0];
    expect(event).toMatchObject({ event_id: 'ord-mw13', event_source_url: URL });
    expect(event.user_data).toMatchObject({ em: [EMAIL_SHA], fbp: FBP, fbc: FBC });
  });

  it('MW06 a copy inside the window that denies consent (GPC) cancels the delivery: nothing reaches Meta', async () => {
    const { server, base, meta } = await start();
    await beacon(base, 'ord-mw6');
    await server.services.pipeline.flush();
    now = T0 + 2000;
    const gpc = await fetch(`${base}/e`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        origin: 'http://shop.test',
        'user-agent': UA,
        'sec-gpc': '1',
      },
      body: JSON.stringify({ env_id: 'env_t', event_name: 'Purchase', event_id: 'ord-mw6' }),
    });
    expect(gpc.status).toBe(204);
    await server.services.pipeline.flush();
    now = T0 + 60_000;
    expect(await round(server)).toBe(0);
    expect(meta.got).toHaveLength(0);
    const [row] = await outbox(server);
    expect(row).toMatchObject({ status: 'failed', failed_for: 'consent' });
    const trail = await server.services.store.getDelivery(row.id);
    expect(trail?.attempts.map((a) => a.verdict)).toEqual(['cancelled']);
    const [conv] = await server.services.store.listConversions({ env_id: 'env_t', limit: 5 });
    expect(conv).toMatchObject({ attribution: null, reason: 'ads consent denied' });
  });

  it('MW07 Google Ads failed for want of a gclid or e-mail; the e-mail arriving later sends it', async () => {
    const ads = await startReceiver(() => ({ status: 200, body: { results: [{}] } }));
    const { server, base } = await startPixeltrail(
      config([
        {
          id: 'gads',
          type: 'google_ads',
          customer_id: '123-456-7890',
          conversion_action: '987654',
          developer_token: 'dev-token',
          access_token: 'ya29.token',
          base_url: ads.url,
          merge_window: 0,
        },
      ]),
      tempDir(),
      { nowMs: clock },
    );
    running.push({ server, receivers: [ads] });
    await beacon(base, 'ord-mw7');
    await server.services.pipeline.flush();
    await waitFor(async () => (await outbox(server))[0]?.status === 'failed');
    const [failed] = await outbox(server);
    expect(failed).toMatchObject({
      failed_for: 'identifiers',
      last_error: expect.stringMatching(/no gclid/),
    });
    expect(ads.got).toHaveLength(0);

    now = T0 + 120_000;
    await postEvents(base, [serverCopy('ord-mw7')]);
    await waitFor(() => ads.got.length > 0);
    const [conversion] = JSON.parse(ads.got[0].body).conversions;
    expect(conversion).toMatchObject({
      orderId: 'ord-mw7',
      userIdentifiers: [{ hashedEmail: EMAIL_SHA }],
    });
    await waitFor(async () => (await outbox(server))[0].status === 'delivered');
  });

  it('MW08 after delivery, a copy with new match keys is sent to Meta again (same event_id); Google Ads and the webhook are left alone', async () => {
    const meta = await startReceiver(() => OK);
    const ads = await startReceiver(() => ({ status: 200, body: { results: [{}] } }));
    const hook = await startReceiver(() => 200);
    const { server, base } = await startPixeltrail(
      config([
        metaDest(meta.url, { merge_window: 0 }),
        {
          id: 'gads',
          type: 'google_ads',
          customer_id: '123-456-7890',
          conversion_action: '987654',
          developer_token: 'dev-token',
          access_token: 'ya29.token',
          base_url: ads.url,
          merge_window: 0,
        },
        { id: 'hook', type: 'webhook', url: `${hook.url}/h`, secret: 's', merge_window: 0 },
      ]),
      tempDir(),
      { nowMs: clock },
    );
    running.push({ server, receivers: [meta, ads, hook] });
    await beacon(base, 'ord-mw8', {
      user: { anonymous_id: 'anon-mw-1234', fbp: FBP, gclid: 'Cj0KCQ-gclid' },
    });
    await server.services.pipeline.flush();
    const delivered = async () => (await outbox(server)).every((r) => r.status === 'delivered');
    await waitFor(delivered);
    expect([meta.got.length, ads.got.length, hook.got.length]).toEqual([1, 1, 1]);
    expect(JSON.parse(meta.got[0].body).data[0].user_data.em).toBeUndefined();

    now = T0 + 60_000;
    await postEvents(base, [serverCopy('ord-mw8')]);
    await waitFor(() => meta.got.length === 2);
    const [again] = JSON.parse(meta.got[1].body).data;
    expect(again).toMatchObject({ event_id: 'ord-mw8', event_name: 'Purchase' });
    expect(again.user_data).toMatchObject({ em: [EMAIL_SHA], fbp: FBP });
    await waitFor(delivered);
    expect(await round(server)).toBe(0);
    expect([meta.got.length, ads.got.length, hook.got.length]).toEqual([2, 1, 1]);
  });

  it('MW09 a copy after delivery that adds nothing Meta matches on sends nothing again', async () => {
    const { server, base, meta } = await start({ merge_window: 0 });
    await beacon(base, 'ord-mw9');
    await server.services.pipeline.flush();
    await waitFor(async () => (await outbox(server))[0]?.status === 'delivered');
    now = T0 + 60_000;
    await postEvents(base, [serverCopy('ord-mw9', { user: { gclid: 'Cj0-only-google' } })]);
    expect((await outbox(server))[0].status).toBe('delivered');
    expect(await round(server)).toBe(0);
    expect(meta.got).toHaveLength(1);
  });

  it('MW10 a copy more than 24 h after the first is not sent again: Meta deduplicates within 48 h only', async () => {
    const { server, base, meta } = await start({ merge_window: 0 });
    await beacon(base, 'ord-mw10');
    await server.services.pipeline.flush();
    await waitFor(async () => (await outbox(server))[0]?.status === 'delivered');
    now = T0 + 24 * 3_600_000 + 1000;
    expect((await postEvents(base, [serverCopy('ord-mw10')])).body.duplicates).toBe(1);
    expect((await outbox(server))[0].status).toBe('delivered');
    expect(await round(server)).toBe(0);
    expect(meta.got).toHaveLength(1);
  });

  it('MW11 a GPC copy inside the window, to a destination sending sale opt-outs under Limited Data Use: sent flagged LDU, not cancelled', async () => {
    const { server, base, meta } = await start({ limited_data_use: true });
    await beacon(base, 'ord-mw11');
    await server.services.pipeline.flush();
    now = T0 + 2000;
    await fetch(`${base}/e`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        origin: 'http://shop.test',
        'user-agent': UA,
        'sec-gpc': '1',
      },
      body: JSON.stringify({ env_id: 'env_t', event_name: 'Purchase', event_id: 'ord-mw11' }),
    });
    await server.services.pipeline.flush();
    now = T0 + 30_000;
    server.services.worker.wake();
    const event = await firstEvent(meta);
    expect(event).toMatchObject({ event_id: 'ord-mw11', data_processing_options: ['LDU'] });
    const [conv] = await server.services.store.listConversions({ env_id: 'env_t', limit: 5 });
    expect(conv).toMatchObject({
      attribution: null,
      reason: expect.stringMatching(/Limited Data Use/),
    });
  });

  it('MW14 a first copy without action_source takes the one a later copy states; Meta gets it', async () => {
    const { server, base, meta } = await start();
    await postEvents(base, [serverCopy('ord-mw14')]);
    now = T0 + 2_000;
    // The call centre's CRM copy says where the sale happened.
    const crm = serverCopy('ord-mw14', { action_source: 'phone_call' });
    expect((await postEvents(base, [crm])).body).toMatchObject({ duplicates: 1 });
    now = T0 + 30_000;
    server.services.worker.wake();
    // Without the merge, the first copy (no page, no user agent) went as "other".
    expect(await firstEvent(meta)).toMatchObject({
      event_id: 'ord-mw14',
      action_source: 'phone_call',
    });
  });
});
