import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signClick } from '../../src/domain/click-link.js';
import { IngestRefused } from '../../src/ingest/ingest-pipeline.js';
import type { Server } from '../../src/server.js';
import {
  admin,
  metricValue,
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedByKey } from '../helpers/stored-event.js';

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

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { headers: { 'user-agent': UA, ...headers }, redirect: 'manual' });

const metric = (name: string, labels: string) => metricValue(base, name, labels);

/** The tag's beacon from the shop's page with one Lead. */
function leadBeacon(eventId: string): Promise<Response> {
  return fetch(`${base}/e`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: 'http://shop.test', 'user-agent': UA },
    body: JSON.stringify({ events: [{ env_id: 'env_t', event_name: 'Lead', event_id: eventId }] }),
  });
}

type RecordEvents = Server['services']['pipeline']['recordEvents'];

/** Runs `fn` with the pipeline's recordEvents replaced by `fake(the real one)`, then restores it. */
async function withRecordEvents(
  fake: (record: RecordEvents) => RecordEvents,
  fn: () => Promise<void>,
): Promise<void> {
  const pipeline = server.services.pipeline;
  const record = pipeline.recordEvents.bind(pipeline);
  pipeline.recordEvents = fake(record);
  try {
    await fn();
  } finally {
    pipeline.recordEvents = record;
  }
}

async function conversion(eventId: string) {
  return waitFor(async () => {
    const list = (await admin(base, '/api/conversions?env_id=env_t&limit=1000')).body.conversions;
    return list.find((c: { event_id: string }) => c.event_id === eventId);
  });
}

describe('impression pixel', () => {
  it('P01 answers a 1x1 GIF, not cacheable, and sets ptid', async () => {
    const res = await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-P1');
    const gif = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(gif.length).toBeLessThanOrEqual(43);
    expect(gif.subarray(0, 6).toString()).toBe('GIF89a');
    expect([gif.readUInt16LE(6), gif.readUInt16LE(8)]).toEqual([1, 1]);
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
    expect(res.headers.get('set-cookie')).toMatch(/^ptid=[A-Za-z0-9_-]+;.*HttpOnly; SameSite=Lax$/);
  });

  it.each([
    ['no env_id', '/i?dest_id=dsp1&imp_id=X', 'missing_env_id'],
    ['unknown env', '/i?env_id=nope&dest_id=dsp1&imp_id=X', 'unknown_env'],
    ['no imp_id', '/i?env_id=env_t&dest_id=dsp1', 'missing_imp_id'],
    ['unknown destination', '/i?env_id=env_t&dest_id=zzz&imp_id=X', 'unknown_dest'],
    ['garbage query', '/i?%%%&&==&env_id[]=1', 'missing_env_id'],
    [
      'imp_id over 256 characters',
      `/i?env_id=env_t&dest_id=dsp1&imp_id=${'x'.repeat(257)}`,
      'imp_id_too_long',
    ],
  ])('P02 %s still answers the GIF, says why, and is counted', async (_n, path, reason) => {
    const before = await metric('pixeltrail_invalid_hits_total', `reason="${reason}"`);
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('x-pixeltrail-warnings')).toBe(reason);
    expect(await metric('pixeltrail_invalid_hits_total', `reason="${reason}"`)).toBe(before + 1);
  });

  it('P03 a bot gets the GIF but its hit is not stored', async () => {
    await server.services.pipeline.flush();
    const before = (await admin(base, '/api/stats')).body.impressions;
    const res = await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-BOT', {
      'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    });
    expect(res.status).toBe(200);
    await server.services.pipeline.flush();
    expect((await admin(base, '/api/stats')).body.impressions).toBe(before);
  });

  it('P04 Sec-GPC: no cookie, no touch kept for attribution', async () => {
    await server.services.pipeline.flush();
    const before = (await admin(base, '/api/stats')).body.impressions;
    const res = await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-GPC', { 'sec-gpc': '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    await server.services.pipeline.flush();
    expect((await admin(base, '/api/stats')).body.impressions).toBe(before);
  });

  it('P05 the impression is stored with its identity keys: cookie and user id match later', async () => {
    const res = await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-P5&user_id=u-p5');
    const cookie = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    await postEvents(base, [{ ...purchase('ord-p5a'), user: { anonymous_id: cookie } }]);
    await postEvents(base, [{ ...purchase('ord-p5b'), user: { user_id: 'u-p5' } }]);
    expect((await conversion('ord-p5a')).attribution).toMatchObject({
      imp_id: 'IMP-P5',
      match_key: 'cookie',
    });
    expect((await conversion('ord-p5b')).attribution).toMatchObject({
      imp_id: 'IMP-P5',
      match_key: 'user_id',
    });
  });
});

describe('HEAD on the pixels and the click link', () => {
  it('H01 answers what GET would (GIF, or the 302 and its location) but records nothing and sets no cookie', async () => {
    await server.services.pipeline.flush();
    const before = (await admin(base, '/api/stats')).body;
    const head = (path: string) =>
      fetch(`${base}${path}`, {
        method: 'HEAD',
        headers: { 'user-agent': UA },
        redirect: 'manual',
      });
    const i = await head('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-HEAD');
    const p = await head('/p?env_id=env_t&ev=Lead&eid=lead-head');
    const c = await head(
      `/c?env_id=env_t&dest_id=dsp1&click_id=CL-HEAD&url=${encodeURIComponent('https://shop.example/h')}`,
    );
    const bad = await head(`/c?env_id=env_t&url=${encodeURIComponent('https://evil.example/')}`);
    expect([i.status, p.status, c.status, bad.status]).toEqual([200, 200, 302, 400]);
    expect(i.headers.get('content-type')).toBe('image/gif');
    expect(p.headers.get('content-type')).toBe('image/gif');
    expect(c.headers.get('location')).toBe('https://shop.example/h');
    for (const r of [i, p, c]) expect(r.headers.get('set-cookie')).toBeNull();
    expect(i.headers.get('x-pixeltrail-warnings')).toBe('head');
    // A link check of a wrong pixel URL learns what GET would have warned about.
    const wrong = await head('/i?env_id=env_t&dest_id=nope&imp_id=IMP-HEAD');
    expect(wrong.headers.get('x-pixeltrail-warnings')).toBe('unknown_dest');
    const wrongP = await head('/p?env_id=nope&ev=Lead');
    expect(wrongP.headers.get('x-pixeltrail-warnings')).toBe('unknown_env');
    for (const endpoint of ['i', 'p', 'c'])
      expect(
        await metric('pixeltrail_invalid_hits_total', `endpoint="${endpoint}",reason="head"`),
      ).toBeGreaterThanOrEqual(1);
    // A GET after them is recorded, so the flush below would have seen theirs.
    await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-AFTER-HEAD');
    await server.services.pipeline.flush();
    const after = (await admin(base, '/api/stats')).body;
    expect(after.impressions).toBe(before.impressions + 1);
    expect(after.clicks).toBe(before.clicks);
    expect(after.events).toBe(before.events);
  });
});

describe('click redirect', () => {
  const click = (url: string, extra = '') =>
    get(`/c?env_id=env_t&dest_id=dsp1&click_id=CL-1${extra}&url=${encodeURIComponent(url)}`);

  it.each([
    'https://evil.example/phish',
    'https://shop.example.evil.com/',
    'https://shop.example@evil.com/',
    'https:\\\\evil.com',
    '//evil.com/x',
    '/\\evil.com',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'http://evil.com%2F@shop.example',
  ])('C01 refuses an open redirect to %s', async (url) => {
    const res = await click(url);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect((await res.json()).error.code).toBeTruthy();
  });

  it('C02 follows an allowed host and records the click', async () => {
    const res = await click('https://shop.example/p/1');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example/p/1');
    await waitFor(async () => (await admin(base, '/api/stats')).body.clicks >= 1);
  });

  it('C03 a signed link may go to any host; a tampered one may not', async () => {
    const params = {
      env_id: 'env_t',
      dest_id: 'dsp1',
      click_id: 'CL-S',
      url: 'https://landing.other.example/a?b=1',
    };
    const sig = signClick('wk_t', params);
    const ok = await get(`/c?${new URLSearchParams({ ...params, sig })}`);
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe(params.url);
    const bad = await get(
      `/c?${new URLSearchParams({ ...params, url: 'https://evil.example/', sig })}`,
    );
    expect(bad.status).toBe(400);
  });

  it('C04 the admin API signs links that /c then accepts', async () => {
    const r = await admin(
      base,
      `/api/click-links?env_id=env_t&dest_id=dsp1&click_id=CL-A&url=${encodeURIComponent('https://any.example/x')}`,
    );
    const res = await fetch(r.body.url.replace(/^http:\/\/localhost:\d+/, base), {
      redirect: 'manual',
      headers: { 'user-agent': UA },
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://any.example/x');
    // A link /c would refuse whatever its signature is not signed at all.
    for (const url of ['javascript:alert(1)', '/relative', 'https://u:p@shop.example/']) {
      const refused = await admin(
        base,
        `/api/click-links?env_id=env_t&click_id=CL-A&url=${encodeURIComponent(url)}`,
      );
      expect([url, refused.status, refused.body.errors?.[0]?.field]).toEqual([url, 400, 'url']);
    }
  });

  it('C05 a click inside the click window beats an impression (click-through)', async () => {
    const res = await get(
      `/c?env_id=env_t&dest_id=dsp1&click_id=CL-C5&campaign_id=c5&url=${encodeURIComponent('https://shop.example/')}`,
    );
    const cookie = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] as string;
    await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-C5', { cookie: `ptid=${cookie}` });
    await postEvents(base, [{ ...purchase('ord-c5'), user: { anonymous_id: cookie } }]);
    expect((await conversion('ord-c5')).attribution).toMatchObject({
      type: 'click',
      click_id: 'CL-C5',
      campaign_id: 'c5',
      window: '7d',
    });
  });
});

describe('server events API', () => {
  it('S01 a wrong or missing key is 401 with a JSON error', async () => {
    const r = await postEvents(base, [purchase('x')], 'nope');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unauthorized');
    const none = await fetch(`${base}/v1/events`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(none.status).toBe(401);
  });

  it('S02 a body that is not JSON is 400; over 1 MB is 413; both JSON', async () => {
    const post = (body: string) =>
      fetch(`${base}/v1/events`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
      });
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toBeTruthy();
    const big = await post(
      JSON.stringify({
        events: [{ event_name: 'Lead', properties: { pad: 'x'.repeat(1_100_000) } }],
      }),
    );
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('body_too_large');
  });

  it('S03 no events list, or more than 1000, is 400 naming the field', async () => {
    const empty = await postEvents(base, []);
    expect(empty.status).toBe(400);
    expect(empty.body.errors[0].field).toBe('events');
    const many = await postEvents(
      base,
      Array.from({ length: 1001 }, (_, i) => ({ event_name: 'Lead', event_id: `m${i}` })),
    );
    expect(many.status).toBe(400);
  });

  it('S04 a mixed batch stores every good event and names each bad field', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await postEvents(base, [
      { event_name: 'Lead', event_id: 's4-ok-1' },
      {
        event_name: 'Purchase',
        event_id: 's4-bad-1',
        properties: { value: 'lots', currency: 'EUR' },
      },
      { event_name: 'Purchase', event_id: 's4-bad-2', properties: { value: 1, currency: 'EURO' } },
      // Lead goes to a webhook: no platform limit, so the 90 days touches are kept.
      { event_name: 'Lead', event_id: 's4-bad-3', event_time: now - 91 * 86_400 },
      { event_name: 'Lead', event_id: 's4-bad-4', event_time: now + 3600 },
      { event_name: 'Lead', event_id: 's4-ok-2' },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(2);
    expect(r.body.errors).toEqual([
      { index: 1, field: 'properties.value', message: 'must be a number' },
      { index: 2, field: 'properties.currency', message: 'must be an ISO 4217 currency code' },
      { index: 3, field: 'event_time', message: 'is more than 90 days old' },
      { index: 4, field: 'event_time', message: 'is in the future' },
    ]);
  });

  it('S05 copies of one event_id count once, within a batch and across batches', async () => {
    const r1 = await postEvents(base, [purchase('s5'), purchase('s5')]);
    expect(r1.body).toMatchObject({ accepted: 1, duplicates: 1 });
    const r2 = await postEvents(base, [purchase('s5')]);
    expect(r2.body).toMatchObject({ accepted: 0, duplicates: 1 });
    const r3 = await postEvents(base, [{ ...purchase('s5'), event_name: 'Lead' }]);
    expect(r3.body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('S06 emails and phones are never stored or forwarded in clear', async () => {
    await postEvents(base, [
      {
        ...purchase('s6'),
        user: {
          email: 'Jane@Example.com',
          phone: '+1 555 010 9999',
          ip: '127.0.0.1',
          user_agent: UA,
        },
      },
    ]);
    const dump = JSON.stringify((await admin(base, '/api/conversions?limit=1000')).body);
    expect(dump).not.toMatch(/jane@example\.com/i);
  });

  it('S09 an event nested thousands deep is refused by field; the rest of its batch and the requests beside it commit', async () => {
    // Written by hand: JSON.stringify of it would overflow the stack, as the commit did.
    const deep = `{"x":${'['.repeat(8000)}${']'.repeat(8000)}}`;
    const body = `{"events":[{"event_name":"Purchase","event_id":"s09-deep","properties":${deep}},${JSON.stringify(purchase('s09-ok'))}]}`;
    const [poisoned, ...beside] = await Promise.all([
      fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
        body,
      }),
      ...Array.from({ length: 5 }, (_, i) => postEvents(base, [purchase(`s09-beside-${i}`)])),
    ]);
    expect(poisoned.status).toBe(200);
    expect(await poisoned.json()).toMatchObject({
      accepted: 1,
      errors: [{ index: 0, field: 'properties.x' }],
    });
    expect(beside.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await conversion('s09-ok')).toBeDefined();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});

describe('event pixel and tag beacon', () => {
  it('B01 /p records a Lead from an email or no-JS page and answers a GIF', async () => {
    const res = await get('/p?env_id=env_t&ev=Lead&eid=lead-b1&value=5&currency=usd');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(await conversion('lead-b1')).toMatchObject({
      event_name: 'Lead',
      value: 5,
      currency: 'USD',
    });
  });

  it('B02 /p with a bad value still answers the GIF and names the problem', async () => {
    const res = await get('/p?env_id=env_t&ev=Lead&eid=lead-b2&value=abc');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixeltrail-warnings')).toMatch(/properties\.value/);
  });

  it('B03 /e takes a text/plain beacon, reflects an allowed origin and answers 204', async () => {
    const res = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://shop.test', 'user-agent': UA },
      body: JSON.stringify({
        events: [
          {
            env_id: 'env_t',
            event_name: 'Purchase',
            event_id: 'b3',
            user: { anonymous_id: 'anon-b3-123' },
            properties: { value: 3, currency: 'EUR' },
          },
        ],
      }),
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    // A preflight's headers are read from the OPTIONS answer alone (Fetch standard): not
    // sent again on every beacon.
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
    expect(res.headers.get('access-control-max-age')).toBeNull();
    // The answer depends on the Origin: a shared cache must keep it apart.
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('set-cookie')).toMatch(/^ptid=anon-b3-123;/);
    expect(await conversion('b3')).toMatchObject({ value: 3 });
  });

  it('B03b /e answers after its commit: the event is stored when the 204 comes', async () => {
    // The beacon's commit is held 100 ms: a route answering before it would answer first.
    const order: string[] = [];
    await withRecordEvents(
      (record) => async (events) => {
        await new Promise((r) => setTimeout(r, 100));
        const outcomes = await record(events);
        order.push('committed');
        return outcomes;
      },
      async () => {
        const res = await leadBeacon('b3b');
        order.push('answered');
        expect(res.status).toBe(204);
        expect(order).toEqual(['committed', 'answered']);
        // Read once, without flushing or waiting: the 204 came after the commit.
        expect(await storedByKey(server.services.store, 'env_t', 'Lead', 'b3b')).toBeTruthy();
      },
    );
  });

  it('B03c /e answers 204 when its commit fails: the page never sees an error', async () => {
    await withRecordEvents(
      () => () => Promise.reject(new IngestRefused('store_unavailable')),
      async () => {
        const res = await leadBeacon('b3c');
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
      },
    );
  });

  it('B03d a beacon that fails inside the route is one hit and one error, not two hits', async () => {
    const hits = () => metric('pixeltrail_hits_total', 'endpoint="e"');
    const errors = () => metric('pixeltrail_invalid_hits_total', 'endpoint="e",reason="error"');
    const [hitsBefore, errorsBefore] = [await hits(), await errors()];
    await withRecordEvents(
      () => () => Promise.reject(new Error('a bug of ours')),
      async () => expect((await leadBeacon('b3d')).status).toBe(204),
    );
    expect(await hits()).toBe(hitsBefore + 1);
    expect(await errors()).toBe(errorsBefore + 1);
  });

  it('B04 /e from an origin the environment does not allow is counted, not stored', async () => {
    const before = await metric('pixeltrail_invalid_hits_total', 'reason="origin_not_allowed"');
    const res = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.test', 'user-agent': UA },
      body: JSON.stringify({ env_id: 'env_t', event_name: 'Purchase', event_id: 'b4' }),
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await metric('pixeltrail_invalid_hits_total', 'reason="origin_not_allowed"')).toBe(
      before + 1,
    );
  });

  it('B05 /e with garbage still answers 204 and counts it', async () => {
    const before = await metric('pixeltrail_invalid_hits_total', 'reason="bad_body"');
    const res = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'garbage{',
    });
    expect(res.status).toBe(204);
    expect(await metric('pixeltrail_invalid_hits_total', 'reason="bad_body"')).toBe(before + 1);
  });

  it('B05b /e answers 204 whatever the body or its type, counts what it cannot read, and keeps what it can', async () => {
    const before = await metric('pixeltrail_invalid_hits_total', 'reason="bad_body"');
    const unreadable: [Record<string, string>, string][] = [
      [{ 'content-type': 'application/json' }, 'garbage'],
      [{ 'content-type': 'application/json' }, ''],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'],
      [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
      [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'x'],
    ];
    for (const [headers, body] of unreadable) {
      const res = await fetch(`${base}/e`, { method: 'POST', headers, body });
      expect(res.status).toBe(204);
    }
    expect(await metric('pixeltrail_invalid_hits_total', 'reason="bad_body"')).toBe(
      before + unreadable.length,
    );
    // sendBeacon with a Blob of no type sends no Content-Type; a JSON body with a
    // `__proto__` key is kept without it.
    const event = (id: string, extra = '') =>
      `{"env_id":"env_t","event_name":"Purchase","event_id":"${id}","properties":{"value":2,"currency":"EUR"${extra}}}`;
    const untyped = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'user-agent': UA },
      body: new Blob([event('b5b-1')]),
    });
    expect(untyped.status).toBe(204);
    const proto = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: event('b5b-2', ',"__proto__":{"polluted":1}'),
    });
    expect(proto.status).toBe(204);
    expect(await conversion('b5b-1')).toMatchObject({ value: 2 });
    expect(await conversion('b5b-2')).toMatchObject({ value: 2 });
  });

  it('B06 the browser copy (pixel) and server copy of one event count once and merge', async () => {
    await get('/p?env_id=env_t&ev=Purchase&eid=b6&value=10&currency=EUR');
    await postEvents(base, [
      { ...purchase('b6'), user: { user_id: 'u-b6', ip: '127.0.0.1', user_agent: UA } },
    ]);
    // No wait needed: /p queued its copy before answering, and events commit in arrival
    // order, so the server copy's answer (after its commit) comes after the pixel's commit.
    const list = (await admin(base, '/api/conversions?limit=1000')).body.conversions.filter(
      (c: { event_id: string }) => c.event_id === 'b6',
    );
    expect(list).toHaveLength(1);
  });
});

describe('admin API', () => {
  it('M01 requires the admin token', async () => {
    const res = await fetch(`${base}/api/conversions`);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('unauthorized');
  });

  it('M02 bad query parameters are a 400 naming the field', async () => {
    const r = await admin(base, '/api/conversions?limit=abc');
    expect(r.status).toBe(400);
    expect(r.body.errors[0].field).toBe('limit');
    const t = await admin(base, '/api/conversions?since=yesterday-ish');
    expect(t.status).toBe(400);
    expect(t.body.errors[0].field).toBe('since');
  });

  it('M03 an infinite number (1e309, Infinity) in a query, path or body is a 400 naming the field, not a 500', async () => {
    for (const path of [
      '/api/conversions?limit=1e309',
      '/api/events?limit=Infinity',
      '/api/deliveries?limit=-1e309',
      '/api/deliveries/1e309',
    ]) {
      const r = await admin(base, path);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body.errors[0].field).toMatch(/^(limit|id)$/);
    }
  });

  it('M03b an unknown status filter and a replay range that is unusable are 400s naming every bad field', async () => {
    for (const path of ['/api/conversions?status=bogus', '/api/deliveries?status=attributed']) {
      const r = await admin(base, path);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body.errors[0].field).toBe('status');
    }
    expect((await admin(base, '/api/deliveries?status=dead')).status).toBe(200);
    const replay = (from: string, to: string) =>
      admin(base, '/api/replay', 'POST', { env_id: 'env_t', dest_id: 'dsp1', from, to });
    const both = await replay('garbage', 'x');
    expect(both.status).toBe(400);
    expect(both.body.errors.map((e: { field: string }) => e.field)).toEqual(['from', 'to']);
    const reversed = await replay('2026-02-01T00:00:00Z', '2026-01-01T00:00:00Z');
    expect(reversed.status).toBe(400);
    expect(reversed.body.errors).toEqual([
      { index: null, field: 'to', message: 'must not be before from' },
    ]);
  });

  it('M04 an events body whose events is not an array is a 400 naming events, not a batch of one bad event', async () => {
    for (const events of ['null', '"x"', '5']) {
      const res = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
        body: `{"events":${events}}`,
      });
      expect(res.status).toBe(400);
      expect((await res.json()).errors[0].field).toBe('events');
    }
  });
});
