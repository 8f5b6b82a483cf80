/**
 * The impression pixel is answered by a node:http fast path in front of Fastify (issue 7).
 * Its answers must be the ones Fastify's `/i` route gives: a server built without the fast
 * path is the reference, asked the same questions, with and without `trust_proxy`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientWindows } from '../../src/http/plugins/rate-limits.js';
import { deviceTouchId } from '../../src/http/request/device-touch.js';
import type { Server } from '../../src/server.js';
import { fastPathServer } from '../helpers/fast-path-server.js';
import { startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';
import { rawRequest } from '../helpers/raw-request.js';

const PER_IP = 30;
type Running = { server: Server; base: string };
let fast: Running;
let reference: Running;
let fastProxied: Running;
let referenceProxied: Running;

function config(trustProxy: boolean) {
  return {
    ...testConfig('http://127.0.0.1:9/hook'),
    path_prefix: '/px',
    trust_proxy: trustProxy,
    rate_limit: { per_ip: PER_IP, per_key: 0 },
  };
}

beforeAll(async () => {
  fast = await startPixeltrail(config(false), tempDir());
  reference = await startPixeltrail(config(false), tempDir(), { fastPaths: false });
  fastProxied = await startPixeltrail(config(true), tempDir());
  referenceProxied = await startPixeltrail(config(true), tempDir(), { fastPaths: false });
});
afterAll(async () => {
  for (const r of [fast, reference, fastProxied, referenceProxied]) await r?.server.close();
});

/** Status, headers that do not vary by the moment or the random id, and body. */
async function answer(base: string, path: string, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, { headers: { 'user-agent': UA, ...headers } });
  const body = Buffer.from(await res.arrayBuffer()).toString('base64');
  const kept: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k === 'date' || k === 'x-ratelimit-reset' || k === 'retry-after') return;
    kept[k] = k === 'set-cookie' ? v.replace(/^ptid=[^;]+/, 'ptid=<id>') : v;
  });
  return { status: res.status, headers: kept, body };
}

const query = 'env_id=env_t&dest_id=dsp1&campaign_id=c9';
const CASES: [string, string, Record<string, string>][] = [
  ['a clean hit (new browser)', `/i?${query}&imp_id=FP-1`, {}],
  ['a browser with its cookie', `/i?${query}&imp_id=FP-2`, { cookie: 'ptid=abcdefgh12345678' }],
  ['under a path prefix', `/px/i?${query}&imp_id=FP-3`, {}],
  ['an opted-out browser (Sec-GPC)', `/i?${query}&imp_id=FP-4`, { 'sec-gpc': '1' }],
  ['a bot', `/i?${query}&imp_id=FP-5`, { 'user-agent': 'Googlebot/2.1' }],
  ['a prefetch', `/i?${query}&imp_id=FP-6`, { 'sec-purpose': 'prefetch' }],
  ['a denied TCF string', `/i?${query}&imp_id=FP-7&gdpr=1&gdpr_consent=xx`, {}],
  [
    'an opted-out browser with its cookie (Sec-GPC)',
    `/i?${query}&imp_id=FP-14`,
    { 'sec-gpc': '1', cookie: 'ptid=abcdefgh12345678' },
  ],
  [
    'a US Privacy opt-out with a cookie',
    `/i?${query}&imp_id=FP-15&us_privacy=1YYN`,
    { cookie: 'ptid=abcdefgh12345678' },
  ],
  ['no imp_id', `/i?${query}`, {}],
  ['an unknown destination', '/i?env_id=env_t&dest_id=nope&imp_id=FP-8', {}],
  ['an unknown environment', '/i?env_id=env_x&dest_id=dsp1&imp_id=FP-9', {}],
  ['repeated keys', `/i?${query}&imp_id=FP-10&imp_id=FP-11`, {}],
  [
    'a request through proxies',
    `/i?${query}&imp_id=FP-12`,
    {
      'x-forwarded-for': '203.0.113.9, 10.0.0.2',
      'x-forwarded-host': 'px.shop.example, px2.shop.example',
      'x-forwarded-proto': 'https',
    },
  ],
  ['a forwarded plain-http host', `/i?${query}&imp_id=FP-13`, { 'x-forwarded-host': 'px.test' }],
];

describe('impression pixel fast path', () => {
  it.each(CASES)('FP01 answers %s exactly as the Fastify route does', async (_n, path, h) => {
    expect(await answer(fast.base, path, h)).toEqual(await answer(reference.base, path, h));
    const proxied = await answer(fastProxied.base, path, h);
    expect(proxied).toEqual(await answer(referenceProxied.base, path, h));
  });

  it('FP02 records the same touches as the Fastify route (IP protected, flags, device id)', async () => {
    const path = `/i?${query}&imp_id=FP-20&gaid=38400000-8cf0-11bd-b23e-10b96e40000d`;
    const h = { 'user-agent': 'Googlebot/2.1', 'x-forwarded-for': '198.51.100.4' };
    for (const r of [fast, reference, fastProxied, referenceProxied]) await answer(r.base, path, h);
    const anonymous_id = deviceTouchId({ gaid: '38400000-8cf0-11bd-b23e-10b96e40000d' });
    const touch = async ({ server }: Running) => {
      await server.services.pipeline.flush();
      const found = await server.services.store.findSubject({ env_id: 'env_t', anonymous_id });
      const t = found.touches.find((x) => x.touch_id === 'FP-20');
      // The two hits may straddle a second.
      return t && { ...t, time: 0 };
    };
    const a = await touch(fast);
    expect(a).toMatchObject({ traffic: 'bot', campaign_id: 'c9', anonymous_id });
    expect(a?.ip).toMatch(/^h:/);
    expect(a).toEqual(await touch(reference));
    // Under trust_proxy the client is the forwarded address (stored as its HMAC).
    const b = await touch(fastProxied);
    expect(b?.ip).not.toBe(a?.ip);
    expect(b).toEqual(await touch(referenceProxied));
  });

  it('FP03 over the per-IP limit, a 429 GIF with Retry-After, counted with the other routes', async () => {
    // API calls and pixel hits from one IP count against one limit: /healthz spends it.
    for (let i = 0; i < PER_IP; i++) await (await fetch(`${fast.base}/healthz`)).arrayBuffer();
    const res = await fetch(`${fast.base}/i?${query}&imp_id=FP-RL`, {
      headers: { 'user-agent': UA },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('x-pixeltrail-warnings')).toBe('rate_limited');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('FP04 serves GET /i itself and hands every other request to Fastify', async () => {
    const seen: string[] = [];
    const { base, close } = await fastPathServer(fast, (req, res) => {
      seen.push(`${req.method} ${req.url?.split('?')[0]}`);
      res.end('fastify');
    });
    try {
      const gif = await fetch(`${base}/i?${query}&imp_id=FP-30`, { headers: { 'user-agent': UA } });
      expect(gif.headers.get('content-type')).toBe('image/gif');
      for (const p of ['/p?env_id=env_t', '/i?e=pv&tv=js-3', '/healthz'])
        await (await fetch(`${base}${p}`)).text();
      await (await fetch(`${base}/i?${query}`, { method: 'HEAD' })).text();
      expect(seen).toEqual(['GET /p', 'GET /i', 'GET /healthz', 'HEAD /i']);
    } finally {
      await close();
    }
  });

  // Hits read in one turn of the event loop are answered together after it. Requests
  // pipelined in one write are read in one turn: a hit whose handling throws must answer
  // alone, not leave the others of its turn unanswered.
  it('FP05 hits read together are each answered, in order, and recorded; one that fails answers 500 alone', async () => {
    const windows = clientWindows();
    const hit = windows.hit.bind(windows);
    let calls = 0;
    windows.hit = (key, ms) => {
      if (++calls === 3) throw new Error('the third hit fails');
      return hit(key, ms);
    };
    const { base, close } = await fastPathServer(fast, (_req, res) => res.end('fastify'), windows);
    const ptid = 'fp05fp05fp05fp05';
    try {
      const heads = Array.from({ length: 6 }, (_, i) => ({
        path: `/i?${query}&imp_id=FP05-${i}`,
        headers: { cookie: `ptid=${ptid}` },
      }));
      // A request Fastify answers, between the hits: the answers keep their order.
      heads.splice(4, 0, { path: '/healthz', headers: { cookie: '' } });
      const statuses = await pipelined(base, heads);
      expect(statuses).toEqual([200, 200, 500, 200, 200, 200, 200]);
      await fast.server.services.pipeline.flush();
      const found = await fast.server.services.store.findSubject({
        env_id: 'env_t',
        anonymous_id: ptid,
      });
      const ids = found.touches.map((t) => t.touch_id).filter((id) => id.startsWith('FP05-'));
      expect(ids.sort()).toEqual(['FP05-0', 'FP05-1', 'FP05-3', 'FP05-4', 'FP05-5']);
    } finally {
      await close();
    }
  });

  // The touches of hits waiting for the end of their turn are recorded before any commit
  // takes the queue: a conversion committed after a hit was read must see its impression.
  it('FP06 a commit that starts while hits wait for the end of their turn commits their touches', async () => {
    const services = fast.server.services;
    const seen: boolean[] = [];
    const { base, close } = await fastPathServer(fast, (_req, res) => {
      // Fastify's stand-in starts a commit while the hit read before it still waits.
      void services.pipeline.flush().then(async () => {
        const found = await services.store.findSubject({
          env_id: 'env_t',
          anonymous_id: 'fp06fp06fp06fp06',
        });
        seen.push(found.touches.some((t) => t.touch_id === 'FP06-1'));
        res.end('flushed');
      });
    });
    try {
      const statuses = await pipelined(base, [
        { path: `/i?${query}&imp_id=FP06-1`, headers: { cookie: 'ptid=fp06fp06fp06fp06' } },
        { path: '/flush', headers: { cookie: '' } },
      ]);
      expect(statuses).toEqual([200, 200]);
      expect(seen).toEqual([true]);
    } finally {
      await close();
    }
  });
});

/**
 * GETs `requests` pipelined in one write on one connection (the last closes it), so the server
 * reads them in one turn; resolves with the answers' statuses in the order they came.
 */
async function pipelined(
  base: string,
  requests: { path: string; headers: Record<string, string> }[],
): Promise<number[]> {
  const { hostname, port } = new URL(base);
  const text = requests
    .map((r, i) => {
      const headers: Record<string, string> = {
        host: `${hostname}:${port}`,
        'user-agent': UA,
        ...r.headers,
      };
      if (i === requests.length - 1) headers.connection = 'close';
      const lines = Object.entries(headers).filter(([, v]) => v !== '');
      return `GET ${r.path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    })
    .join('');
  const answers = (await rawRequest(Number(port), text)).toString('latin1');
  return [...answers.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
