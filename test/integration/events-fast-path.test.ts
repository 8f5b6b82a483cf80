/**
 * `POST /v1/events`, Segment's server calls and the tag's beacon `POST /e` are answered by a
 * node:http fast path in front of Fastify when the request is plain (issue 22): its answers
 * must be the ones Fastify's route gives. A server built
 * without the fast paths is the reference, asked the same questions in the same order, and
 * anything the fast path does not take itself must reach Fastify with its body intact.
 */
import { once } from 'node:events';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { fastPathServer } from '../helpers/fast-path-server.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { storedByKey, storedIp } from '../helpers/stored-event.js';

type Running = { server: Server; base: string };
const PER_KEY = 3;
/** Per IP: the limited servers' beacons (EF05) count in it, after EF02's two wrong keys. */
const PER_IP = 6;
const AUTH_FAILURES = 2;
let fast: Running;
let reference: Running;
let fastLimited: Running;
let referenceLimited: Running;

function config(limited: boolean) {
  const base = testConfig('http://127.0.0.1:9/hook');
  // An environment whose visitors consented to nothing until they say so, for the beacon.
  const eu = {
    ...base.environments[0],
    id: 'env_eu',
    write_key: 'wk_eu',
    allowed_origins: ['http://eu.test'],
    consent_default: 'denied',
    destinations: [],
  };
  return {
    ...base,
    environments: [...base.environments, eu],
    path_prefix: '/px',
    rate_limit: limited
      ? { per_ip: PER_IP, per_key: PER_KEY, auth_failures: AUTH_FAILURES }
      : { per_ip: 0, per_key: 0 },
  };
}

/** A stand-in for Fastify that notes each request it gets, body whole, and answers 'fastify'. */
function recordingFastify(seen: string[]): http.RequestListener {
  return (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.end('fastify');
    });
  };
}

beforeAll(async () => {
  fast = await startPixeltrail(config(false), tempDir());
  reference = await startPixeltrail(config(false), tempDir(), { fastPaths: false });
  fastLimited = await startPixeltrail(config(true), tempDir());
  referenceLimited = await startPixeltrail(config(true), tempDir(), { fastPaths: false });
});
afterAll(async () => {
  for (const r of [fast, reference, fastLimited, referenceLimited]) await r?.server.close();
});

interface Ask {
  path?: string;
  /** An undefined value leaves the header out (the Authorization header included). */
  headers?: Record<string, string | undefined>;
  body: string | Buffer;
  /** Sent with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  /** The body's first bytes go at once, the rest once this settles. */
  midBody?: Promise<void>;
}

/** The headers given a value. */
function sent(headers: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
  return out;
}

/** Status, headers that do not vary by the moment, and body of one POST. */
function answer(
  base: string,
  ask: Ask,
): Promise<{ status: number; headers: object; body: string }> {
  const url = new URL(`${base}${ask.path ?? '/v1/events'}`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: sent({
          'content-type': 'application/json',
          authorization: 'Bearer wk_t',
          ...(ask.chunked ? {} : { 'content-length': String(Buffer.byteLength(ask.body)) }),
          ...ask.headers,
        }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          const headers: Record<string, string | string[] | undefined> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (k !== 'date' && k !== 'x-ratelimit-reset') headers[k] = v;
          resolve({ status: res.statusCode ?? 0, headers, body });
        });
      },
    );
    req.on('error', reject);
    if (ask.chunked) {
      const b = Buffer.from(ask.body);
      req.write(b.subarray(0, 5));
      req.end(b.subarray(5));
    } else if (ask.midBody) {
      const b = Buffer.from(ask.body);
      req.write(b.subarray(0, 5));
      void ask.midBody.then(() => req.end(b.subarray(5)));
    } else req.end(ask.body);
  });
}

const purchase = (id: string, extra: Record<string, unknown> = {}) => ({
  event_name: 'Purchase',
  event_id: id,
  user: { ip: '203.0.113.9', user_agent: 'Mozilla/5.0' },
  properties: { value: 9.5, currency: 'EUR' },
  ...extra,
});
const events = (...list: unknown[]) => JSON.stringify({ events: list });

/** A Purchase whose `note` property holds bytes that are not UTF-8. */
const BAD_UTF8_VALUE = Buffer.concat([
  Buffer.from('{"events":[{"event_name":"Purchase","event_id":"ef-u8","properties":{"note":"a'),
  Buffer.from([0xff, 0xfe, 0xc3]),
  Buffer.from('b"}}]}'),
]);
const PROTO_BODY = `{"__proto__":{"x":1},"events":[${JSON.stringify(
  purchase('ef-9', { properties: { value: 3, currency: 'EUR', __proto__: { y: 2 } } }),
).replace('"properties":{', '"properties":{"__proto__":{"y":2},')}]}`;

const CASES: [string, Ask][] = [
  ['one event', { body: events(purchase('ef-1')) }],
  ['a copy of it', { body: events(purchase('ef-1', { user: { email: 'a@b.test' } })) }],
  ['a batch with a bad event', { body: events(purchase('ef-2'), { event_id: 'x' }, 5) }],
  ['under the path prefix', { path: '/px/v1/events', body: events(purchase('ef-3')) }],
  [
    'charset in capitals',
    {
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: events(purchase('ef-4')),
    },
  ],
  ['text/plain', { headers: { 'content-type': 'text/plain' }, body: events(purchase('ef-5')) }],
  ['no key', { headers: { authorization: '' }, body: events(purchase('ef-6')) }],
  ['a wrong key', { headers: { authorization: 'Bearer nope' }, body: events(purchase('ef-7')) }],
  ['the admin token', { headers: { authorization: 'Bearer adm' }, body: events(purchase('ef-8')) }],
  ['not JSON', { body: '{"events":[}' }],
  ['an empty body', { body: '' }],
  ['an array', { body: '[]' }],
  ['no events', { body: '{"events":[]}' }],
  ['events not a list', { body: '{"events":{"event_name":"Purchase"}}' }],
  [
    'too many events',
    { body: events(...Array.from({ length: 1001 }, (_, i) => purchase(`ef-many-${i}`))) },
  ],
  ['__proto__ keys', { body: PROTO_BODY }],
  ['bad UTF-8 in a value', { body: BAD_UTF8_VALUE }],
  [
    'a constructor.prototype key in an event',
    {
      body: events(
        purchase('ef-10', { properties: { constructor: { prototype: { x: 1 } }, value: 1 } }),
      ),
    },
  ],
  ['a query string', { path: '/v1/events?debug=1', body: events(purchase('ef-11')) }],
  ['a chunked body', { chunked: true, body: events(purchase('ef-12')) }],
  ['a byte order mark', { body: Buffer.from(`\ufeff${events(purchase('ef-13'))}`) }],
  [
    'a number out of range',
    {
      body: events(purchase('ef-14', { properties: { value: 0 } })).replace(
        '"value":0',
        '"value":1e309',
      ),
    },
  ],
  [
    'bad UTF-8',
    {
      body: Buffer.concat([
        Buffer.from(events(purchase('ef-15')).slice(0, -3)),
        Buffer.from([0xff, 0x5d, 0x7d]),
      ]),
    },
  ],
];

const basic = (key: string) => ({
  authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
});
const track = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Order Completed',
  messageId: id,
  anonymousId: 'anon-1',
  context: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0' },
  properties: { revenue: 12, currency: 'EUR' },
  ...extra,
});
const segment = (path: string, body: unknown, headers: Record<string, string> = basic('wk_t')) => ({
  path,
  headers,
  body: JSON.stringify(body),
});

const SEGMENT_CASES: [string, Ask][] = [
  ['a track call', segment('/v1/track', track('sg-1'))],
  ['a copy of it', segment('/v1/track', track('sg-1', { userId: 'u-1' }))],
  [
    'an identify call',
    segment('/v1/identify', { userId: 'u-2', messageId: 'sg-2', traits: { email: 'a@b.test' } }),
  ],
  ['a page call', segment('/v1/page', { anonymousId: 'anon-2', messageId: 'sg-3', name: 'Home' })],
  ['a track call with no event', segment('/v1/track', track('sg-4', { event: undefined }))],
  [
    'a message too large',
    segment('/v1/track', track('sg-5', { properties: { blob: 'x'.repeat(40_000) } })),
  ],
  [
    'a batch',
    segment('/v1/batch', {
      batch: [track('sg-6'), track('sg-7', { event: 7 })],
      context: { library: { name: 'x' } },
    }),
  ],
  ['an empty batch', segment('/v1/batch', { batch: [] })],
  ['an import', segment('/v1/import', { batch: [track('sg-8')] })],
  ['the key as Bearer', segment('/v1/track', track('sg-9'), { authorization: 'Bearer wk_t' })],
  ['a wrong key', segment('/v1/track', track('sg-10'), basic('nope'))],
  [
    'the key in the body only',
    segment('/v1/track', { ...track('sg-11'), writeKey: 'wk_t' }, { authorization: '' }),
  ],
  [
    'from a page',
    {
      ...segment('/v1/track', track('sg-12')),
      headers: { ...basic('wk_t'), origin: 'http://evil.test' },
    },
  ],
  [
    // 8 KB received, 35 KB once written out (each `1e20` comes back as 21 digits): too large.
    'a short message written out over the limit',
    {
      path: '/v1/track',
      headers: basic('wk_t'),
      body: JSON.stringify(track('sg-15', { properties: { n: [] } })).replace(
        '"n":[]',
        `"n":[${Array(1600).fill('1e20').join(',')}]`,
      ),
    },
  ],
  ['a list for a body', segment('/v1/track', [track('sg-13')])],
  ['a JSON string for a body', segment('/v1/track', JSON.stringify(track('sg-14')))],
];

const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0';
const tagEvent = (id: string, extra: Record<string, unknown> = {}) => ({
  env_id: 'env_t',
  event_name: 'Purchase',
  event_id: id,
  user: { anonymous_id: `anon-${id}` },
  properties: { value: 4, currency: 'EUR' },
  ...extra,
});
/** The tag's beacon as sendBeacon sends it from the shop's page; `headers` override. */
const beacon = (body: unknown, headers: Record<string, string | undefined> = {}): Ask => ({
  path: '/e',
  headers: {
    authorization: undefined,
    'content-type': 'text/plain;charset=UTF-8',
    origin: 'http://shop.test',
    'user-agent': UA,
    ...headers,
  },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const COOKIE = 'ptid=cookie-ef-0001';

const BEACON_CASES: [string, Ask][] = [
  ['a beacon', beacon({ events: [tagEvent('eb-1')] })],
  ['a copy of it', beacon({ events: [tagEvent('eb-1')] })],
  [
    'a consented event',
    beacon({ events: [tagEvent('eb-2', { consent: { ads: true, analytics: true } })] }),
  ],
  ['with a cookie', beacon({ events: [tagEvent('eb-3')] }, { cookie: COOKIE })],
  [
    'consent withdrawn',
    beacon({ events: [tagEvent('eb-4', { consent: { ads: false } })] }, { cookie: COOKIE }),
  ],
  ['Sec-GPC', beacon({ events: [tagEvent('eb-5')] }, { 'sec-gpc': '1', cookie: COOKIE })],
  ['Sec-GPC, no cookie', beacon({ events: [tagEvent('eb-6')] }, { 'sec-gpc': '1' })],
  ['an origin not allowed', beacon({ events: [tagEvent('eb-7')] }, { origin: 'http://evil.test' })],
  ['no origin', beacon({ events: [tagEvent('eb-8')] }, { origin: undefined })],
  [
    'a bot',
    beacon(
      { events: [tagEvent('eb-9')] },
      { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' },
    ),
  ],
  ['a prefetch', beacon({ events: [tagEvent('eb-10')] }, { 'sec-purpose': 'prefetch' })],
  ['garbage', beacon('garbage{')],
  ['JSON null', beacon('null')],
  ['a string', beacon('"x"')],
  ['an array', beacon([tagEvent('eb-11'), tagEvent('eb-12')])],
  ['one event, no list', beacon(tagEvent('eb-13'))],
  [
    'over 50 events',
    beacon({ events: Array.from({ length: 55 }, (_, i) => tagEvent(`eb-many-${i}`)) }),
  ],
  ['an unknown env', beacon({ events: [tagEvent('eb-14', { env_id: 'nope' })] })],
  ['no env', beacon({ events: [tagEvent('eb-15', { env_id: undefined })] })],
  [
    'an invalid event',
    beacon({ events: [tagEvent('eb-16', { event_name: 7 }), tagEvent('eb-17')] }),
  ],
  [
    'a denied-default environment',
    beacon({ events: [tagEvent('eb-18', { env_id: 'env_eu' })] }, { origin: 'http://eu.test' }),
  ],
  [
    'a denied-default environment, consented',
    beacon(
      {
        events: [tagEvent('eb-19', { env_id: 'env_eu', consent: { ads: true, analytics: true } })],
      },
      { origin: 'http://eu.test' },
    ),
  ],
  [
    'a denied-default environment, refused, with a cookie',
    beacon(
      {
        events: [
          tagEvent('eb-20', { env_id: 'env_eu', consent: { ads: false, analytics: false } }),
        ],
      },
      { origin: 'http://eu.test', cookie: COOKIE },
    ),
  ],
  [
    "the other environment's origin",
    beacon({ events: [tagEvent('eb-21')] }, { origin: 'http://eu.test' }),
  ],
  ['under the path prefix', { ...beacon({ events: [tagEvent('eb-22')] }), path: '/px/e' }],
  [
    'application/json',
    beacon({ events: [tagEvent('eb-23')] }, { 'content-type': 'application/json' }),
  ],
  ['no content type', beacon({ events: [tagEvent('eb-24')] }, { 'content-type': undefined })],
  ['a form', beacon('a=b', { 'content-type': 'application/x-www-form-urlencoded' })],
  ['a bad content type', beacon({ events: [tagEvent('eb-25')] }, { 'content-type': 'text/' })],
  [
    'a query string',
    { ...beacon({ events: [tagEvent('eb-26')] }), path: '/e?gdpr=1&gdpr_consent=x' },
  ],
  ['a chunked body', { ...beacon({ events: [tagEvent('eb-27')] }), chunked: true }],
  ['an empty body', beacon('')],
  ['a body too large', beacon({ events: [tagEvent('eb-28', { pad: 'x'.repeat(70_000) })] })],
  ['a key', beacon({ events: [tagEvent('eb-29')] }, { authorization: 'Bearer wk_t' })],
  ['an encoded body', beacon({ events: [tagEvent('eb-30')] }, { 'content-encoding': 'gzip' })],
  ['a byte order mark', beacon(`\ufeff${JSON.stringify({ events: [tagEvent('eb-31')] })}`)],
  [
    'bad UTF-8 in a value',
    {
      ...beacon(''),
      body: Buffer.concat([
        Buffer.from(
          JSON.stringify({ events: [tagEvent('eb-32', { properties: { note: 'a' } })] }).replace(
            '"a"',
            '"a',
          ),
        ),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('b"}}]}'),
      ]),
    },
  ],
  [
    'a __proto__ key',
    beacon(
      `{"events":[{"env_id":"env_t","event_name":"Lead","event_id":"eb-33","__proto__":{"x":1}}]}`,
    ),
  ],
];

/** The cases of BEACON_CASES the fast path answers itself (EF06). */
const FAST_BEACONS = new Set([
  'a beacon',
  'a consented event',
  'with a cookie',
  'consent withdrawn',
  'Sec-GPC',
  'an origin not allowed',
  'no origin',
  'a bot',
  'a prefetch',
  'garbage',
  'an array',
  'over 50 events',
  'an unknown env',
  'an invalid event',
  'a denied-default environment, refused, with a cookie',
  'under the path prefix',
  'application/json',
  'a byte order mark',
  'bad UTF-8 in a value',
  'a __proto__ key',
]);

/** The beacon's counters of a server: hits and invalid hits of `/e`, by reason. */
async function beaconCounters(r: Running): Promise<string[]> {
  const text = await r.server.services.metrics.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith('pixeltrail_') && l.includes('endpoint="e"'))
    .sort();
}

describe('POST /v1/events through the fast path answers as Fastify does', () => {
  it('EF01 the same answers, case by case, in the same order', async () => {
    const seenBy = new Map<string, Record<string, string | undefined>>();
    for (const [name, ask] of [...CASES, ...SEGMENT_CASES, ...BEACON_CASES]) {
      const want = await answer(reference.base, ask);
      const got = await answer(fast.base, ask);
      expect({ name, ...got }).toEqual({ name, ...want });
      seenBy.set(name, got.headers as Record<string, string | undefined>);
    }
    // The beacon's cases do what they are there for (the cookie set, kept, cleared; CORS).
    const header = (name: string, h: string) => {
      const v = seenBy.get(name)?.[h];
      return v === undefined ? undefined : String(v);
    };
    expect(header('a beacon', 'set-cookie')).toMatch(/^ptid=anon-eb-1;/);
    expect(header('with a cookie', 'set-cookie')).toBeUndefined();
    expect(header('Sec-GPC', 'set-cookie')).toMatch(/^ptid=; Max-Age=0;/);
    expect(header('a denied-default environment', 'set-cookie')).toBeUndefined();
    expect(header('a denied-default environment, consented', 'set-cookie')).toMatch(
      /^ptid=anon-eb-19;/,
    );
    expect(header('a beacon', 'access-control-allow-origin')).toBe('http://shop.test');
    expect(header('an origin not allowed', 'access-control-allow-origin')).toBeUndefined();
    // Both stored the same events, field for field (the time an event without one was given
    // is the moment it arrived, which differs).
    const stored = async (r: Running) => {
      const list: { duplicate_count: number; event: Record<string, unknown> }[] = [];
      for (const env of ['env_t', 'env_eu']) {
        const res = await fetch(`${r.base}/api/events?env_id=${env}&limit=500`, {
          headers: { authorization: 'Bearer adm' },
        });
        const body = (await res.json()) as { events: typeof list };
        list.push(...body.events);
      }
      return list
        .map(
          ({ duplicate_count, event: { event_time: _t, ...e } }): Record<string, unknown> => ({
            duplicate_count,
            ...e,
          }),
        )
        .sort((a, b) => String(a.event_id).localeCompare(String(b.event_id)));
    };
    const kept = await stored(fast);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(await stored(reference));
    const byId = new Map(kept.map((e) => [e.event_id, e]));
    expect(byId.get('ef-u8')?.properties).toEqual({ note: 'a\ufffd\ufffd\ufffdb' });
    expect(byId.get('ef-9')?.properties).toEqual({ value: 3, currency: 'EUR' });
    for (const id of ['eb-1', 'eb-13', 'eb-19', 'eb-many-49']) expect(byId.has(id)).toBe(true);
    expect(byId.has('eb-many-50')).toBe(false);
    // The beacon's counters (hits, and what could not be used, by reason) match too.
    const counters = await beaconCounters(fast);
    expect(counters.some((l) => l.includes('reason="too_many_events"'))).toBe(true);
    expect(counters).toEqual(await beaconCounters(reference));
  });

  it('EF02 the per-key limit and the lockout of failed keys hold as in Fastify', async () => {
    const seq: Ask[] = [
      ...Array.from({ length: PER_KEY - 1 }, (_, i) => ({ body: events(purchase(`rl-${i}`)) })),
      segment('/v1/track', track('rl-s1')),
      segment('/v1/track', track('rl-s2')),
      { body: events(purchase('rl-over')) },
      ...Array.from({ length: AUTH_FAILURES }, () => ({
        headers: { authorization: 'Bearer wrong' },
        body: events(purchase('rl-x')),
      })),
      // Locked out: even the right key is refused, unchecked.
      { body: events(purchase('rl-after')) },
    ];
    const statuses: number[] = [];
    for (const ask of seq) {
      const want = await answer(referenceLimited.base, ask);
      const got = await answer(fastLimited.base, ask);
      expect(got).toEqual(want);
      statuses.push(got.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 401, 401, 429]);
    // The key's limit spans both APIs: Segment's calls counted in the same window.
  });

  it('EF03 answers a plain POST (events API, Segment) itself and replays every other one to Fastify whole', async () => {
    const seen: string[] = [];
    const { base, close } = await fastPathServer(fast, recordingFastify(seen));
    try {
      const plain = await answer(base, { body: events(purchase('ef3-1')) });
      expect(plain.status).toBe(200);
      expect(JSON.parse(plain.body)).toEqual({ accepted: 1, duplicates: 0, errors: [] });
      for (const [path, body] of [
        ['/v1/track', track('ef3-s1')],
        ['/v1/batch', { batch: [track('ef3-s2')] }],
      ] as const) {
        const seg = await answer(base, segment(path, body));
        expect(JSON.parse(seg.body)).toEqual({
          success: true,
          accepted: 1,
          duplicates: 0,
          errors: [],
        });
      }
      for (const body of [PROTO_BODY, BAD_UTF8_VALUE]) {
        const odd = await answer(base, { body });
        // Answered by the fast path (EF01 stored these events already: they are copies now).
        expect(JSON.parse(odd.body)).toEqual({ accepted: 0, duplicates: 1, errors: [] });
      }
      const bad = '{"events":[}';
      expect((await answer(base, { body: bad })).body).toBe('fastify');
      const none = '{"events":[]}';
      expect((await answer(base, { body: none })).body).toBe('fastify');
      const wrongKey = events(purchase('ef3-2'));
      await answer(base, { headers: { authorization: 'Bearer nope' }, body: wrongKey });
      expect(seen).toEqual([
        `POST /v1/events ${bad}`,
        `POST /v1/events ${none}`,
        `POST /v1/events ${wrongKey}`,
      ]);
    } finally {
      await close();
    }
  });

  it('EF04 a key over its limit is handed to Fastify before its body is read', async () => {
    const handed: boolean[] = [];
    const { base, close } = await fastPathServer(fastLimited, (req, res) => {
      // A replayed request comes complete; one handed over from its head has its body to come.
      handed.push(req.complete);
      req.resume();
      req.on('end', () => res.end('fastify'));
    });
    try {
      for (let i = 0; i < PER_KEY; i++)
        expect((await answer(base, { body: events(purchase(`ef4-${i}`)) })).status).toBe(200);
      const big = events(...Array.from({ length: 900 }, (_, i) => purchase(`ef4-big-${i}`)));
      expect((await answer(base, { body: big })).body).toBe('fastify');
      expect(handed).toEqual([false]);
    } finally {
      await close();
    }
  });

  it('EF05 the per-IP limit holds for beacons as in Fastify, an IP over it answered by Fastify', async () => {
    const last: Record<string, unknown>[] = [];
    const statuses: number[] = [];
    // Whatever EF02 left of the IP's window, the same in both.
    for (let i = 0; i <= PER_IP; i++) {
      const ask = beacon({ events: [tagEvent(`ef5-${i}`)] });
      const want = await answer(referenceLimited.base, ask);
      const got = await answer(fastLimited.base, ask);
      expect(got).toEqual(want);
      last.push(got.headers as Record<string, unknown>);
      statuses.push(got.status);
    }
    expect(last[0]?.['x-ratelimit-limit']).toBe(String(PER_IP));
    // Over the limit: Fastify's answer, the limiter's 429 with its Retry-After (a beacon
    // over the limit was answered 204 and logged as a failure before).
    expect(statuses.at(-1)).toBe(429);
    expect(statuses[0]).toBe(204);
    expect(last.at(-1)?.['retry-after']).toBeDefined();
    expect(await beaconCounters(fastLimited)).toEqual(await beaconCounters(referenceLimited));
  });

  it('EF08 a request whose IP or key used its window up while the body came in goes to Fastify, body whole', async () => {
    const cases: [Ask, (i: number) => Ask, number][] = [
      [
        beacon({ events: [tagEvent('ef8-slow')] }),
        (i) => beacon({ events: [tagEvent(`ef8-${i}`)] }),
        PER_IP,
      ],
      [
        { body: events(purchase('ef8-k-slow')) },
        (i) => ({ body: events(purchase(`ef8-k${i}`)) }),
        PER_KEY,
      ],
    ];
    for (const [ask, other, limit] of cases) {
      const seen: string[] = [];
      const { base, close, server } = await fastPathServer(fastLimited, recordingFastify(seen));
      try {
        let release = () => {};
        const midBody = new Promise<void>((r) => {
          release = r;
        });
        // The head is in (and passed the limit check) before the others are sent.
        const headIn = once(server, 'request');
        const pending = answer(base, { ...ask, midBody });
        await headIn;
        for (let i = 0; i < limit; i++)
          expect((await answer(base, other(i))).body).not.toBe('fastify');
        release();
        expect((await pending).body).toBe('fastify');
        expect(seen).toEqual([`POST ${ask.path ?? '/v1/events'} ${ask.body}`]);
      } finally {
        await close();
      }
    }
  });

  it('EF07 behind a trusted proxy: the forwarded address and scheme, the Secure cookie, as Fastify', async () => {
    const proxied = { ...config(false), trust_proxy: true };
    const pair = [
      await startPixeltrail(proxied, tempDir()),
      await startPixeltrail(proxied, tempDir(), { fastPaths: false }),
    ];
    try {
      const forwarded = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
      const consented = { consent: { ads: true, analytics: true } };
      for (const ask of [
        beacon({ events: [tagEvent('ef7-1', consented)] }, forwarded),
        beacon({ events: [tagEvent('ef7-2', consented)] }, { 'x-forwarded-for': '203.0.113.7' }),
        beacon({ events: [tagEvent('ef7-3')] }, { ...forwarded, 'sec-gpc': '1', cookie: COOKIE }),
      ]) {
        const [got, want] = [await answer(pair[0].base, ask), await answer(pair[1].base, ask)];
        expect(got).toEqual(want);
      }
      const first = await answer(
        pair[0].base,
        beacon({ events: [tagEvent('ef7-4', consented)] }, forwarded),
      );
      expect(String((first.headers as Record<string, unknown>)['set-cookie'])).toMatch(/; Secure/);
      // Each stored the forwarded address, not the proxy's.
      for (const r of pair) {
        const e = await storedByKey(r.server.services.store, 'env_t', 'Purchase', 'ef7-1');
        expect(e?.event.user.ip).toBe(storedIp(r.server, '203.0.113.7'));
      }
    } finally {
      for (const r of pair) await r.server.close();
    }
  });

  it('EF06 answers a plain beacon itself and hands every other one to Fastify, body whole', async () => {
    const seen: string[] = [];
    const { base, close } = await fastPathServer(fast, recordingFastify(seen));
    try {
      for (const ask of [
        beacon({ events: [tagEvent('ef6-1')] }),
        beacon('garbage{'),
        beacon({ events: [tagEvent('ef6-2')] }, { origin: undefined, cookie: COOKIE }),
        beacon({ events: [tagEvent('ef6-3')] }, { 'content-type': 'application/json' }),
        { ...beacon({ events: [tagEvent('ef6-4')] }), path: '/px/e' },
      ]) {
        const plain = await answer(base, ask);
        expect(plain.status).toBe(204);
        expect(plain.body).toBe('');
      }
      // EF01's plain cases too: equal answers prove nothing if Fastify gave them all.
      for (const [name, ask] of BEACON_CASES)
        if (FAST_BEACONS.has(name)) expect((await answer(base, ask)).body, name).toBe('');
      const query = { ...beacon({ events: [tagEvent('ef6-5')] }), path: '/e?gdpr=1' };
      const keyed = beacon({ events: [tagEvent('ef6-6')] }, { authorization: 'Bearer wk_t' });
      const untyped = beacon({ events: [tagEvent('ef6-7')] }, { 'content-type': undefined });
      const chunked = { ...beacon({ events: [tagEvent('ef6-8')] }), chunked: true };
      for (const ask of [query, keyed, untyped, chunked])
        expect((await answer(base, ask)).body).toBe('fastify');
      expect(seen).toEqual([
        `POST /e?gdpr=1 ${query.body}`,
        `POST /e ${keyed.body}`,
        `POST /e ${untyped.body}`,
        `POST /e ${chunked.body}`,
      ]);
    } finally {
      await close();
    }
  });
});
