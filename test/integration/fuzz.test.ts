/**
 * Fuzz (issues 6 and 18): random requests across every public endpoint — pixels, click,
 * beacon, server API, Segment, Snowplow, tag and rules, health and metrics, and the admin API
 * without credentials — valid, mutated and garbage queries, bodies, content types, keys,
 * cookies, consent strings and user agents, against a running `pixeltrail serve`. No answer
 * may be a 5xx, no request may hang, the process must not crash, and its heap and resident
 * memory must come back near their baselines once the traffic is over. In CI it sends
 * FUZZ_REQUESTS (default 6,000, bounded to keep CI fast); the issue 6 run sent 100,000. The
 * requests are generated from a fixed seed (FUZZ_SEED overrides) so a failure can be replayed.
 */
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChild, writeConfig } from '../helpers/child-server.js';
import { tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { tcfString } from '../helpers/tcf.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 6000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const CONCURRENCY = 48;
/** Requests drawn from fast-check; the rest are mutations of these (generation is the slow part). */
const POOL = 3000;
/** Requests per batch; the baselines are taken after the first two (warm-up). */
const BATCH = Math.max(1000, Math.ceil(REQUESTS / 12));
/** Heap may end this much above the warmed-up baseline (a leak of 100k requests would not). */
const HEAP_SLACK_BYTES = 48 * 1024 * 1024;
/** Resident memory likewise: generous, for allocator and SQLite cache growth. */
const RSS_SLACK_BYTES = 96 * 1024 * 1024;
/** A request unanswered this long hangs (the slowest, a heavy export, takes a second or two). */
const HANG_MS = 15_000;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Sent without credentials, mutations included (`/api/live` with a token is a stream). */
  anonymous?: boolean;
}

/** Headers without the credentials of a token or a session. */
function withoutCredentials(h: Record<string, string>): Record<string, string> {
  const { authorization: _a, cookie: _c, ...rest } = h;
  return rest;
}

const TCF = tcfString([1, 2, 3]);
const token = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  fc.constantFrom('env_f', 'dsp1', 'IMP-1', 'Purchase', '1', '0', '1YYN', TCF, 'DBABTA~1YYN'),
  fc.constantFrom('https://shop.example/x', 'javascript:alert(1)', '//evil.example', '%00', '%'),
);
const queryKey = fc.oneof(
  fc.constantFrom(
    'env_id',
    'dest_id',
    'imp_id',
    'click_id',
    'url',
    'sig',
    'exp',
    'ev',
    'eid',
    'value',
    'currency',
    'content_ids',
    'user_id',
    'gdpr',
    'gdpr_consent',
    'us_privacy',
    'gpp',
    'gpp_sid',
    'email',
    'limit',
    'since',
    'status',
    'anonymous_id',
    'served',
    'measurable',
    'viewable',
    'ttv_ms',
    'max_share',
    'env_id[]',
    'e',
    'aid',
    'p',
    'tv',
    'eid',
    'refr',
    'ue_px',
    'cx',
    'duid',
  ),
  fc.string({ maxLength: 8 }),
);
/** Raw (unencoded) values keep only what an HTTP request line can carry. */
const raw = (v: string) => v.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
const query = fc
  .array(fc.tuple(queryKey, token, fc.boolean()), { maxLength: 8 })
  .map((pairs) =>
    pairs
      .map(
        ([k, v, encode]) => `${encodeURIComponent(k)}=${encode ? encodeURIComponent(v) : raw(v)}`,
      )
      .join('&'),
  );
const eventBody = fc.record(
  {
    event_name: fc.oneof(fc.constant('Purchase'), fc.constant('Lead'), fc.anything()),
    event_id: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
    env_id: fc.constantFrom('env_f', 'nope', ''),
    event_time: fc.oneof(fc.integer(), fc.string({ maxLength: 12 })),
    user: fc.oneof(
      fc.record(
        {
          email: fc.oneof(fc.emailAddress(), fc.string({ maxLength: 20 })),
          phone: fc.string({ maxLength: 20 }),
          anonymous_id: fc.string({ maxLength: 40 }),
          ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 10 })),
        },
        { requiredKeys: [] },
      ),
      fc.anything({ maxDepth: 2 }),
    ),
    properties: fc.oneof(
      fc.record(
        {
          value: fc.oneof(fc.double(), fc.string({ maxLength: 8 })),
          currency: fc.string({ maxLength: 4 }),
        },
        { requiredKeys: [] },
      ),
      fc.anything({ maxDepth: 2 }),
    ),
    consent: fc.oneof(fc.record({ ads: fc.boolean(), analytics: fc.anything() }), fc.anything()),
    sig: fc.string({ maxLength: 64 }),
  },
  { requiredKeys: [] },
);
const segmentMessage = fc.record(
  {
    type: fc.constantFrom('track', 'page', 'identify', 'screen', 'group', 'alias', 'nope'),
    messageId: fc.string({ maxLength: 20 }),
    anonymousId: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
    userId: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)),
    event: fc.oneof(fc.constantFrom('Order Completed', 'Purchase'), fc.anything()),
    writeKey: fc.constantFrom('wk_f', 'nope'),
    timestamp: fc.oneof(
      fc.date().map((d) => d.toISOString()),
      fc.string({ maxLength: 12 }),
    ),
    properties: fc.oneof(
      fc.record({ revenue: fc.double(), currency: fc.string({ maxLength: 4 }) }),
      fc.anything({ maxDepth: 2 }),
    ),
    context: fc.oneof(
      fc.record({ page: fc.record({ url: token, referrer: token }), ip: fc.ipV4() }),
      fc.anything({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);
const snowplowEvent = fc.record(
  {
    e: fc.constantFrom('pv', 'se', 'ue', 'tr', 'ti', 'pp', 'zz'),
    aid: fc.constantFrom('env_f', 'nope'),
    p: fc.constantFrom('web', 'srv', 'mob'),
    eid: fc.uuid(),
    tv: fc.constant('js-4.0.0'),
    url: token,
    refr: token,
    ue_px: fc.string({ maxLength: 40 }),
    cx: fc.string({ maxLength: 40 }),
    tr_tt: fc.oneof(fc.double().map(String), fc.string({ maxLength: 6 })),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  eventBody.map((e) => JSON.stringify(e)),
  segmentMessage.map((m) => JSON.stringify(m)),
  fc.array(segmentMessage, { maxLength: 4 }).map((batch) => JSON.stringify({ batch })),
  fc.array(snowplowEvent, { maxLength: 4 }).map((data) =>
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data,
    }),
  ),
  fc.array(eventBody, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '{"events":', '[]', 'null', '{"events":null}'),
);
const headers = fc.record(
  {
    'user-agent': fc.oneof(
      fc.constant(UA),
      fc.constantFrom('Googlebot/2.1', 'Mozilla/5.0', 'GoogleImageProxy', ''),
      fc.string({ maxLength: 40 }),
    ),
    'sec-gpc': fc.constantFrom('1', '0'),
    'sec-purpose': fc.constantFrom('prefetch', 'prefetch;prerender'),
    cookie: fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `ptid=${s.replace(/[^\x20-\x7e]/g, '')}`),
      fc.constant('pt_session=1.2.3'),
    ),
    'x-forwarded-for': fc.oneof(fc.ipV4(), fc.string({ maxLength: 20 })),
    authorization: fc.constantFrom('Bearer wk_f', 'Bearer adm_f', 'Bearer nope', 'Basic x', ''),
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'text/plain;charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/octet-stream',
    ),
    origin: fc.constantFrom('http://shop.test', 'http://evil.test', 'null'),
    'x-csrf-token': fc.string({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);
const routes = fc.constantFrom(
  ['GET', '/i'],
  ['GET', '/i'],
  ['GET', '/p'],
  ['GET', '/c'],
  ['POST', '/e'],
  ['POST', '/e'],
  ['OPTIONS', '/e'],
  ['POST', '/v1/events'],
  ['POST', '/v1/events'],
  ['GET', '/t.js'],
  ['GET', '/healthz'],
  ['GET', '/api/conversions'],
  ['GET', '/api/deliveries'],
  ['GET', '/api/deliveries/1'],
  ['POST', '/api/deliveries/1/retry'],
  ['GET', '/api/stats'],
  ['GET', '/api/environments'],
  ['GET', '/api/click-links'],
  ['POST', '/api/replay'],
  ['POST', '/api/session'],
  ['GET', '/api/session'],
  ['GET', '/nope'],
  ['PUT', '/i'],
  // Issue 18: every other public endpoint.
  ['HEAD', '/i'],
  ['HEAD', '/p'],
  ['OPTIONS', '/v1/events'],
  ['POST', '/v1/track'],
  ['POST', '/v1/page'],
  ['POST', '/v1/identify'],
  ['POST', '/v1/screen'],
  ['POST', '/v1/batch'],
  ['POST', '/v1/b'],
  ['POST', '/v1/import'],
  ['GET', '/v1/projects/wk_f/settings'],
  ['POST', '/com.snowplowanalytics.snowplow/tp2'],
  ['POST', '/com.snowplowanalytics.snowplow/tp2'],
  ['GET', '/com.snowplowanalytics.snowplow/i'],
  ['GET', '/i?e=pv&aid=env_f'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/rules'],
  ['GET', '/rules.js'],
  ['GET', '/ui/'],
  ['GET', '/%61pi/stats'],
  // Issue 24: the viewability tag's signal and assets.
  ['POST', '/v'],
  ['GET', '/v'],
  ['HEAD', '/v'],
  ['GET', '/v.js'],
  ['GET', '/v.html'],
);
/** The admin API as anyone may reach it: no token, no session. */
const adminRoutes = fc.constantFrom(
  'GET /api/audiences',
  'POST /api/audiences',
  'GET /api/audiences/1/members',
  'GET /api/audiences/1/export.csv',
  'POST /api/audiences/1/sync',
  'GET /api/campaign-costs',
  'GET /api/conversions/1/path',
  'GET /api/destination-types',
  'GET /api/destinations',
  'POST /api/destinations',
  'PUT /api/destinations/env_f/dsp1',
  'POST /api/destinations/env_f/dsp1/test',
  'POST /api/destinations/env_f/dsp1/pause',
  'GET /api/environments/env_f/triggers',
  'PUT /api/environments/env_f/triggers',
  'GET /api/events',
  'GET /api/events/1',
  'GET /api/health',
  'GET /api/live',
  'GET /api/reports',
  'GET /api/reports/attribution',
  'GET /api/reports/viewability',
  'GET /api/touches',
  'GET /api/setup',
  'DELETE /api/subjects',
  'GET /api/subjects/export',
  'DELETE /api/session',
);
const withQuery = (p: string, q: string) => (q ? `${p}${p.includes('?') ? '&' : '?'}${q}` : p);
const publicRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({ route: routes, query, headers, body })
  .map(({ route, query: q, headers: h, body: b }) => {
    const [method, p] = route as [string, string];
    const withBody = method === 'POST' || method === 'PUT';
    return { method, path: withQuery(p, q), headers: h, body: withBody ? b : undefined };
  });
const unauthenticatedAdmin: fc.Arbitrary<FuzzRequest> = fc
  .record({ route: adminRoutes, query, headers, body })
  .map(({ route, query: q, headers: h, body: b }) => {
    const [method, p] = route.split(' ');
    const withBody = method !== 'GET' && method !== 'DELETE';
    return {
      method,
      path: withQuery(p, q),
      headers: withoutCredentials(h),
      body: withBody ? b : undefined,
      anonymous: true,
    };
  });
const request = fc.oneof(
  { arbitrary: publicRequest, weight: 5 },
  { arbitrary: unauthenticatedAdmin, weight: 1 },
);

/** Erasure and export are heavy by design (full scans, checkpoint, vacuum): a few of each. */
const heavy: fc.Arbitrary<FuzzRequest> = fc
  .tuple(fc.constantFrom('DELETE /api/subjects', 'GET /api/subjects/export'), query)
  .map(([route, q]) => {
    const [method, p] = route.split(' ');
    return { method, path: `${p}?${q}`, headers: { authorization: 'Bearer adm_f' } };
  });

/** A small, fast PRNG (mulberry32) for the mutations, seeded like the pool. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One of the pool's requests with its path or body cut or byte-flipped, or headers swapped. */
function mutate(pool: FuzzRequest[], rnd: () => number): FuzzRequest {
  const r = pool[Math.floor(rnd() * pool.length)];
  const other = pool[Math.floor(rnd() * pool.length)];
  const cut = (t: string) => t.slice(0, Math.floor(rnd() * (t.length + 1)));
  const flip = (t: string) => {
    if (!t) return t;
    const i = Math.floor(rnd() * t.length);
    return t.slice(0, i) + String.fromCharCode(33 + Math.floor(rnd() * 94)) + t.slice(i + 1);
  };
  switch (Math.floor(rnd() * 5)) {
    case 0:
      return { ...r, path: flip(r.path) };
    case 1:
      return { ...r, body: r.body === undefined ? undefined : cut(r.body) };
    case 2:
      return { ...r, body: r.body === undefined ? undefined : flip(r.body) };
    case 3: {
      const headers = { ...r.headers, ...other.headers };
      return { ...r, headers: r.anonymous ? withoutCredentials(headers) : headers };
    }
    default:
      return r;
  }
}

function send(agent: http.Agent, base: URL, r: FuzzRequest): Promise<number> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: r.method,
          path: r.path,
          headers: r.headers,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
    } catch {
      // A header the client library itself refuses is not a server answer: counted apart.
      resolve(-1);
      return;
    }
    req.on('error', () => resolve(-1));
    // An answer that never comes is a hang, counted apart from a refused request.
    req.setTimeout(HANG_MS, () => {
      resolve(-2);
      req.destroy();
    });
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

async function memory(base: string): Promise<{ heap: number; rss: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(name))
        ?.split(' ')
        .pop(),
    );
  return {
    heap: value('pixeltrail_nodejs_heap_size_used_bytes'),
    rss: value('pixeltrail_process_resident_memory_bytes'),
  };
}

let server: ChildServer;

beforeAll(async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, {
    admin_token: 'adm_f',
    log_level: 'warn',
    trust_proxy: true,
    rate_limit: { per_ip: 0, per_key: 0 },
    environments: [
      {
        id: 'env_f',
        write_key: 'wk_f',
        allowed_origins: ['http://shop.test'],
        click_url_hosts: ['shop.example'],
        destinations: [
          {
            id: 'dsp1',
            type: 'webhook',
            url: 'http://127.0.0.1:9/hook',
            secret: 's',
            events: ['Purchase'],
          },
        ],
      },
    ],
  });
  server = await startChild(cfg, path.join(dir, 'data'));
});
afterAll(async () => {
  await server?.stop();
});

describe('fuzz', () => {
  it(`Z01 ${REQUESTS} random requests to every public endpoint: no 5xx, no hang, no crash, heap and RSS back near baseline`, async () => {
    const base = new URL(server.base);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    const fiveXX: FuzzRequest[] = [];
    let done = 0;
    let baseline = { heap: 0, rss: 0 };
    const started = Date.now();
    const pool = fc.sample(request, { numRuns: POOL, seed: SEED });
    const heavyOnes = fc.sample(heavy, { numRuns: 20, seed: SEED });
    const rnd = prng(SEED);
    for (let b = 0; done < REQUESTS; b++) {
      const size = Math.min(BATCH, REQUESTS - done);
      const batch =
        b === 0 ? pool.slice(0, size) : Array.from({ length: size }, () => mutate(pool, rnd));
      if (b === 2) batch.splice(0, heavyOnes.length, ...heavyOnes);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < batch.length) {
            const r = batch[next++];
            const status = await send(agent, base, r);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500 && fiveXX.length < 20) fiveXX.push(r);
          }
        }),
      );
      done += batch.length;
      // The first batches warm up caches and code; the baseline is taken after them.
      if (b === 1) baseline = await memory(server.base);
    }
    agent.destroy();
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz: ${done} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(fiveXX).toEqual([]);
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    expect(statuses.get(-1) ?? 0).toBeLessThan(done / 100);
    expect(statuses.get(-2) ?? 0, 'requests unanswered after HANG_MS').toBe(0);
    // Memory back near the baseline once the queued writes are flushed and V8 has collected.
    let settled = baseline;
    await waitFor(
      async () => {
        settled = await memory(server.base);
        return (
          settled.heap < baseline.heap + HEAP_SLACK_BYTES &&
          settled.rss < baseline.rss + RSS_SLACK_BYTES
        );
      },
      30_000,
      500,
    );
    const mb = (n: number) => Math.round(n / 1e6);
    console.log(
      `fuzz: heap ${mb(baseline.heap)} MB after warm-up, ${mb(settled.heap)} MB after; RSS ${mb(baseline.rss)} MB, ${mb(settled.rss)} MB`,
    );
    expect(server.output()).not.toMatch(/FATAL|uncaught|unhandled/i);
  }, 900_000);
});
