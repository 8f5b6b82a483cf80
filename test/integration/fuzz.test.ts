/**
 * Fuzz (issue 6): 100,000 random requests across every endpoint — valid, mutated and garbage
 * queries, bodies, content types, keys, cookies, consent strings and user agents — against a
 * running `pixeltrail serve`. No answer may be a 5xx, the process must not crash, and its heap
 * must come back near its baseline once the traffic is over. The requests are generated from a
 * fixed seed (FUZZ_SEED overrides) so a failure can be replayed.
 */
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChild, writeConfig } from '../helpers/child-server.js';
import { tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { tcfString } from '../helpers/tcf.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const CONCURRENCY = 48;
/** Requests drawn from fast-check; the rest are mutations of these (generation is the slow part). */
const POOL = 3000;
const BATCH = 5000;
/** Heap may end this much above the warmed-up baseline (a leak of 100k requests would not). */
const HEAP_SLACK_BYTES = 48 * 1024 * 1024;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
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
    'env_id[]',
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
const body = fc.oneof(
  eventBody.map((e) => JSON.stringify(e)),
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
);
const request: fc.Arbitrary<FuzzRequest> = fc
  .record({ route: routes, query, headers, body })
  .map(({ route, query: q, headers: h, body: b }) => {
    const [method, p] = route as [string, string];
    const withBody = method === 'POST' || method === 'PUT';
    return { method, path: q ? `${p}?${q}` : p, headers: h, body: withBody ? b : undefined };
  });

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
    case 3:
      return { ...r, headers: { ...r.headers, ...other.headers } };
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
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

async function heapUsed(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('pixeltrail_nodejs_heap_size_used_bytes'));
  return Number(line?.split(' ').pop());
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
  it(`Z01 ${REQUESTS} random requests: no 5xx, no crash, heap back near baseline`, async () => {
    const base = new URL(server.base);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    const fiveXX: FuzzRequest[] = [];
    let done = 0;
    let baseline = 0;
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
      if (b === 1) baseline = await heapUsed(server.base);
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
    // Memory back near the baseline once the queued writes are flushed and V8 has collected.
    const settled = await waitFor(
      async () => {
        const heap = await heapUsed(server.base);
        return heap < baseline + HEAP_SLACK_BYTES ? heap : 0;
      },
      30_000,
      500,
    );
    console.log(
      `fuzz: heap ${Math.round(baseline / 1e6)} MB after warm-up, ${Math.round(settled / 1e6)} MB after`,
    );
    expect(server.output()).not.toMatch(/FATAL|uncaught|unhandled/i);
  }, 900_000);
});
