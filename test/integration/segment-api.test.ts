import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/identity.js';
import type { Server } from '../../src/server.js';
import { admin, startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedEvent, storedIp } from '../helpers/stored-event.js';

let hook: Receiver;
let server: Server;
let base: string;

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  ({ server, base } = await startPixeltrail(testConfig(`${hook.url}/hook`), tempDir()));
});
afterAll(async () => {
  await server.close();
  await hook.close();
});

/** The real analytics-node client, pointed at pixeltrail instead of api.segment.io. */
function segmentClient(writeKey = 'wk_t') {
  return new Analytics({ writeKey, host: base, flushAt: 20, flushInterval: 50, maxRetries: 0 });
}

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('wk_t'), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('Segment HTTP Tracking API with @segment/analytics-node', () => {
  it('SA01 identify stitches the ad cookie to userId and email; a later Order Completed by userId alone is attributed and delivered', async () => {
    const pixel = await fetch(
      `${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SEG1&campaign_id=c9`,
      {
        headers: { 'user-agent': UA },
      },
    );
    const ptid = /ptid=([^;]+)/.exec(pixel.headers.get('set-cookie') ?? '')?.[1] as string;
    expect(ptid).toBeTruthy();
    const analytics = segmentClient();
    analytics.identify({
      anonymousId: ptid,
      userId: 'seg-u1',
      traits: { email: 'Buyer@Example.com' },
      messageId: 'seg-id-1',
    });
    await analytics.closeAndFlush();
    const identify = await storedEvent(server, 'Identify', 'seg-id-1');
    expect(identify.event.user).toMatchObject({
      anonymous_id: ptid,
      user_id: 'seg-u1',
      email_sha256: sha256Hex('buyer@example.com'),
    });

    const later = segmentClient();
    later.track({
      userId: 'seg-u1',
      event: 'Order Completed',
      messageId: 'seg-order-1',
      properties: {
        order_id: 'o-1',
        revenue: 59.5,
        currency: 'EUR',
        products: [{ product_id: 'sku9' }],
      },
    });
    await later.closeAndFlush();
    const order = await storedEvent(server, 'Purchase', 'seg-order-1');
    expect(order.event.properties).toMatchObject({
      value: 59.5,
      currency: 'EUR',
      content_ids: ['sku9'],
    });
    const delivered = await waitFor(() =>
      hook.got.find((r) => JSON.parse(r.body).event_id === 'seg-order-1'),
    );
    expect(JSON.parse(delivered?.body ?? '{}')).toMatchObject({
      event_name: 'Purchase',
      value: 59.5,
      currency: 'EUR',
      attribution: { type: 'view', imp_id: 'IMP-SEG1', campaign_id: 'c9' },
    });
  });

  it('SA02 a batch of track, page and identify is stored; resending a messageId counts once', async () => {
    const before = (await admin(base, '/api/stats')).body;
    const analytics = segmentClient();
    for (const n of [1, 2]) {
      analytics.track({ anonymousId: 'a-b1', event: 'Product Added', messageId: `seg-b-${n}` });
    }
    analytics.page({ anonymousId: 'a-b1', name: 'Home', messageId: 'seg-b-page' });
    analytics.track({ anonymousId: 'a-b1', event: 'Product Added', messageId: 'seg-b-1' });
    await analytics.closeAndFlush();
    await storedEvent(server, 'AddToCart', 'seg-b-2');
    await storedEvent(server, 'PageView', 'seg-b-page');
    const after = (await admin(base, '/api/stats')).body;
    expect(after.events - before.events).toBe(3);
    expect(after.duplicates - before.duplicates).toBe(1);
  });

  it('SA03 the HTTP API answers per message: a batch keeps good messages and names bad ones', async () => {
    const r = await post('/v1/batch', {
      batch: [
        { type: 'track', event: 'Lead Generated', userId: 'u-x', messageId: 'seg-lead-1' },
        { type: 'track', userId: 'u-x', messageId: 'seg-bad-1' },
        { type: 'identify', messageId: 'seg-bad-2' },
      ],
      context: { ip: '198.51.100.7' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, accepted: 1, duplicates: 0 });
    expect(r.body.errors).toEqual([
      { index: 1, field: 'event', message: 'is required for a track call' },
      { index: 2, field: 'userId', message: 'userId or anonymousId is required' },
    ]);
    const lead = await storedEvent(server, 'Lead', 'seg-lead-1');
    expect(lead.event.user.ip).toBe(storedIp(server, '198.51.100.7'));
  });

  it('SA04 a single call with a bad message is a 400 naming the field as the message spells it', async () => {
    const r = await post('/v1/track', { userId: 'u', properties: { revenue: 'lots' }, event: 'X' });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([
      { index: null, field: 'properties.revenue', message: 'must be a number' },
    ]);
  });

  it('SA04b errors name the Segment field the value came from: context.ip, timestamp, traits.email, messageId', async () => {
    const r = await post('/v1/batch', {
      batch: [
        {
          type: 'track',
          event: 'Order Completed',
          userId: 'u-4b',
          messageId: 'seg-4b-1',
          timestamp: 'yesterday-ish',
          context: { ip: '198.51.100.7:443', traits: { email: 'not-an-email' } },
        },
        { type: 'track', event: 'Lead Generated', userId: 'u-4b', messageId: 'seg-4b-2' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(1);
    expect(r.body.errors).toEqual([
      { index: 0, field: 'timestamp', message: 'must be Unix seconds or an ISO 8601 time' },
      { index: 0, field: 'context.ip', message: 'is not a valid IP address' },
      { index: 0, field: 'context.traits.email', message: 'is not a valid email' },
    ]);
  });

  it('SA05 a message over 32 KB and a batch over 500 KB are 400 Bad Request, as Segment answers', async () => {
    const big = 'x'.repeat(33 * 1024);
    const one = await post('/v1/track', { userId: 'u', event: 'X', properties: { big } });
    expect(one).toMatchObject({ status: 400, body: { error: { code: 'payload_too_large' } } });
    const inBatch = await post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'u', event: 'X', properties: { big } },
        { type: 'track', userId: 'u', event: 'Y', messageId: 'seg-small' },
      ],
    });
    expect(inBatch.status).toBe(200);
    expect(inBatch.body.errors).toEqual([
      { index: 0, field: '', message: 'message is over the 32 KB limit' },
    ]);
    const huge = Array.from({ length: 20 }, (_, i) => ({
      type: 'track',
      userId: 'u',
      event: 'X',
      messageId: `h${i}`,
      properties: { big: 'y'.repeat(30 * 1024) },
    }));
    const batch = await post('/v1/batch', { batch: huge });
    expect(batch).toMatchObject({ status: 400, body: { error: { code: 'payload_too_large' } } });
  });

  it('SA05c a message is measured as written out, not as received: 8 KB of 1e20s is over 32 KB, on both routes', async () => {
    // Written by hand: each `1e20` (4 bytes) is 21 digits once parsed and written out again.
    const track = (id: string, n: number) =>
      `{"type":"track","userId":"u","event":"X","messageId":"${id}","properties":{"n":[${Array(n).fill('1e20').join(',')}]}}`;
    const plain = { 'content-type': 'text/plain' };
    for (const headers of [{}, plain]) {
      const tag = headers === plain ? 'p' : 'j';
      // 8 KB received, 35 KB written out: refused as Segment's limit says.
      const over = await post('/v1/track', track(`seg-5c-${tag}1`, 1600), headers);
      expect(over).toMatchObject({ status: 400, body: { error: { code: 'payload_too_large' } } });
      // 3.5 KB (taken unmeasured) and 5 KB (measured, 22 KB written out): both taken.
      for (const [i, n] of [
        [2, 700],
        [3, 1000],
      ]) {
        const r = await post('/v1/track', track(`seg-5c-${tag}${i}`, n), headers);
        expect(r).toMatchObject({ status: 200, body: { accepted: 1 } });
      }
    }
  });

  it('SA05b a message nested thousands deep in a batch is refused by its index; the rest is kept', async () => {
    // Written by hand: JSON.stringify of it would overflow the stack.
    const deep = `{"type":"track","userId":"u","event":"X","properties":{"x":${'['.repeat(8000)}${']'.repeat(8000)}}}`;
    const good = JSON.stringify({ type: 'track', userId: 'u', event: 'Y', messageId: 'seg-5b' });
    const r = await post('/v1/batch', `{"batch":[${deep},${good}]}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, errors: [{ index: 0 }] });
  });

  it('SA06 a wrong write key is 401; Basic with the key as user name, Bearer and body writeKey all work', async () => {
    const msg = { userId: 'u', event: 'Auth Check' };
    expect((await post('/v1/track', msg, { authorization: basic('nope') })).status).toBe(401);
    expect((await post('/v1/track', { ...msg, messageId: 'k1' })).status).toBe(200);
    expect(
      (await post('/v1/track', { ...msg, messageId: 'k2' }, { authorization: 'Bearer wk_t' }))
        .status,
    ).toBe(200);
    expect(
      (
        await post(
          '/v1/track',
          { ...msg, messageId: 'k3', writeKey: 'wk_t' },
          { authorization: '' },
        )
      ).status,
    ).toBe(200);
  });

  it('SA07 unparseable JSON is a 400', async () => {
    const r = await post('/v1/track', '{nope');
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  it('SA08 browser paths: preflight reflects the origin with credentials and the SDK headers', async () => {
    const res = await fetch(`${base}/v1/t`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://shop.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-retry-count',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, x-retry-count',
    );
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('SA09 a text/plain /v1/t from a browser takes the request IP and UA, sets ptid from anonymousId, and honours Sec-GPC', async () => {
    const send = (messageId: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/v1/t`, {
        method: 'POST',
        headers: {
          'content-type': 'text/plain',
          authorization: basic('wk_t'),
          origin: 'http://shop.test',
          'user-agent': UA,
          ...headers,
        },
        body: JSON.stringify({
          type: 'track',
          event: 'Product Viewed',
          anonymousId: 'ajs-anon-123',
          messageId,
        }),
      });
    const res = await send('seg-br-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(res.headers.get('set-cookie')).toMatch(/^ptid=ajs-anon-123;.*HttpOnly/);
    const viewed = await storedEvent(server, 'ViewContent', 'seg-br-1');
    expect(viewed.event.user).toMatchObject({
      ip: storedIp(server, '127.0.0.1'),
      user_agent: UA,
      anonymous_id: 'ajs-anon-123',
    });
    expect(viewed.event.consent.ads).toBeNull();
    await send('seg-br-2', { 'sec-gpc': '1' });
    expect((await storedEvent(server, 'ViewContent', 'seg-br-2')).event.consent.ads).toBe(false);
  });

  it('SA10 an origin the environment does not allow is a 403; a bot is stored flagged, never credited, and gets no cookie', async () => {
    const msg = JSON.stringify({
      type: 'track',
      event: 'X',
      anonymousId: 'a',
      messageId: 'seg-bot-1',
    });
    const other = await fetch(`${base}/v1/t`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        authorization: basic('wk_t'),
        origin: 'http://evil.test',
      },
      body: msg,
    });
    expect(other.status).toBe(403);
    const bot = await fetch(`${base}/v1/t`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        authorization: basic('wk_t'),
        'user-agent': 'Googlebot/2.1',
      },
      body: msg,
    });
    expect(await bot.json()).toMatchObject({ success: true, accepted: 1 });
    expect(bot.headers.get('set-cookie')).toBeNull();
    expect((await storedEvent(server, 'X', 'seg-bot-1')).event.traffic).toBe('bot');
  });

  it('SA11 a server identify with userId and email but no anonymousId joins them: a later conversion by email alone is attributed', async () => {
    const pixel = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SEG11`, {
      headers: { 'user-agent': UA },
    });
    const ptid = /ptid=([^;]+)/.exec(pixel.headers.get('set-cookie') ?? '')?.[1] as string;
    const analytics = segmentClient();
    analytics.identify({ anonymousId: ptid, userId: 'seg-u11', messageId: 'seg-id-11a' });
    await analytics.closeAndFlush();
    await storedEvent(server, 'Identify', 'seg-id-11a');
    const backend = segmentClient();
    backend.identify({
      userId: 'seg-u11',
      traits: { email: 'eleven@example.com' },
      messageId: 'seg-id-11b',
    });
    await backend.closeAndFlush();
    await storedEvent(server, 'Identify', 'seg-id-11b');
    const r = await post('/v1/track', {
      event: 'Order Completed',
      anonymousId: 'some-other-device',
      messageId: 'seg-order-11',
      context: { traits: { email: 'Eleven@Example.com' } },
      properties: { revenue: 11, currency: 'EUR' },
    });
    expect(r.status).toBe(200);
    const delivered = await waitFor(() =>
      hook.got.find((x) => JSON.parse(x.body).event_id === 'seg-order-11'),
    );
    expect(JSON.parse(delivered?.body ?? '{}').attribution).toMatchObject({
      imp_id: 'IMP-SEG11',
      match_key: 'email',
    });
  });
});

describe('Segment calls under consent_default: denied', () => {
  it('SA12 server and browser calls without a stated grant queue nothing for delivery and set no cookie', async () => {
    const euHook = await startReceiver(() => 200);
    const eu = await startPixeltrail(
      testConfig(`${euHook.url}/hook`, { attributed_only: false }, { consent_default: 'denied' }),
      tempDir(),
    );
    try {
      const send = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${eu.base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: basic('wk_t'), ...headers },
          body: JSON.stringify(body),
        });
      const order = (messageId: string, extra: Record<string, unknown> = {}) => ({
        type: 'track',
        event: 'Order Completed',
        userId: 'u-eu',
        messageId,
        properties: { revenue: 10, currency: 'EUR' },
        ...extra,
      });
      expect((await send('/v1/track', order('eu-server-1'))).status).toBe(200);
      const browser = await send('/v1/t', order('eu-browser-1'), {
        'content-type': 'text/plain',
        origin: 'http://shop.test',
      });
      expect(browser.status).toBe(200);
      expect(browser.headers.get('set-cookie')).toBeNull();
      await eu.server.services.pipeline.flush();
      // Nothing queued for any destination: before consent decided these paths, the server
      // call was delivered (attributed_only: false) despite the environment's denied default.
      const counts = await eu.server.services.store.counts('env_t');
      expect(counts.outbox_pending + counts.outbox_delivered).toBe(0);
      expect(euHook.got).toEqual([]);
    } finally {
      await eu.server.close();
      await euHook.close();
    }
  });
  it("SA13 context.consent.categoryPreferences decide, by the environment's consent_categories", async () => {
    const euHook = await startReceiver(() => 200);
    const eu = await startPixeltrail(
      testConfig(
        `${euHook.url}/hook`,
        { attributed_only: false },
        {
          consent_default: 'denied',
          // OneTrust's group ids, as Segment's OneTrust wrapper reports them.
          consent_categories: { ads: ['C0004'], analytics: ['C0002'] },
        },
      ),
      tempDir(),
    );
    try {
      const send = (path: string, messageId: string, prefs: Record<string, boolean>) =>
        fetch(`${eu.base}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'text/plain',
            authorization: basic('wk_t'),
            origin: 'http://shop.test',
            'user-agent': UA,
          },
          body: JSON.stringify({
            type: 'track',
            event: 'Order Completed',
            userId: 'u-cat',
            anonymousId: `anon-${messageId}`,
            messageId,
            properties: { revenue: 10, currency: 'EUR' },
            context: { consent: { categoryPreferences: prefs } },
          }),
        });
      const granted = await send('/v1/track', 'cat-granted', { C0004: true, C0002: true });
      expect(granted.status).toBe(200);
      const refused = await send('/v1/track', 'cat-refused', { C0004: false, C0002: true });
      const unlisted = await send('/v1/track', 'cat-unlisted', { Advertising: true });
      expect([refused.status, unlisted.status]).toEqual([200, 200]);
      const browser = await send('/v1/t', 'cat-browser', { C0004: true });
      expect(browser.headers.get('set-cookie')).toMatch(/^ptid=anon-cat-browser;/);

      const consent = async (id: string) =>
        (await storedEvent(eu.server, 'Purchase', id)).event.consent;
      expect(await consent('cat-granted')).toMatchObject({ ads: true, analytics: true });
      expect(await consent('cat-refused')).toMatchObject({ ads: false, analytics: true });
      // A category the environment does not name says nothing: the denied default holds.
      expect(await consent('cat-unlisted')).toMatchObject({ ads: false, analytics: false });
      await waitFor(() => euHook.got.some((r) => JSON.parse(r.body).event_id === 'cat-granted'));
      const delivered = euHook.got.map((r) => JSON.parse(r.body).event_id);
      expect(delivered).not.toContain('cat-refused');
      expect(delivered).not.toContain('cat-unlisted');
    } finally {
      await eu.server.close();
      await euHook.close();
    }
  });
});
