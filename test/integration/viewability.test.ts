import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import {
  admin,
  metricValue,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

// Issue 24: the viewability signal `/v`, the touch list `/api/touches`, and the tag's assets.
let server: Server;
let base: string;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
  useBuiltTag(server);
});
afterAll(async () => {
  await server.close();
});

const IDS = 'env_id=env_t&dest_id=dsp1&campaign_id=c1&creative_id=cr1&placement_id=pl1';
const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { headers: { 'user-agent': UA, ...headers }, redirect: 'manual' });
const beacon = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    ...init,
    headers: { 'user-agent': UA, ...init.headers },
  });
const invalid = (reason: string) =>
  metricValue(base, 'pixeltrail_invalid_hits_total', `endpoint="v",reason="${reason}"`);

async function touches(query: string) {
  await server.services.pipeline.flush();
  const { status, body } = await admin(base, `/api/touches?env_id=env_t&${query}`);
  expect(status).toBe(200);
  return body.touches;
}

describe('the viewability signal /v', () => {
  it('VW01 served=1 records the impression exactly as /i does: same touch, cookie and count', async () => {
    const hits = await metricValue(base, 'pixeltrail_hits_total', 'endpoint="i"');
    const viaI = await get(`/i?${IDS}&imp_id=IMP-VW1a`, { 'x-forwarded-for': '1.1.1.1' });
    const viaV = await beacon(`/v?${IDS}&imp_id=IMP-VW1b&served=1&measurable=1`);
    expect(viaV.status).toBe(204);
    expect(viaV.headers.get('set-cookie')).toMatch(/^ptid=[A-Za-z0-9_-]+;.*HttpOnly/);
    expect(viaI.headers.get('set-cookie')?.replace(/ptid=[^;]+/, '')).toBe(
      viaV.headers.get('set-cookie')?.replace(/ptid=[^;]+/, ''),
    );
    expect(await metricValue(base, 'pixeltrail_hits_total', 'endpoint="i"')).toBe(hits + 2);
    const [a] = await touches('imp_id=IMP-VW1a');
    const [b] = await touches('imp_id=IMP-VW1b');
    const shape = (t: Record<string, unknown>) => {
      const { id, touch_id, anonymous_id, time, time_iso, view_signal_at, measurable, ...rest } = t;
      return rest;
    };
    expect(shape(b)).toEqual(shape(a));
    expect(b).toMatchObject({
      served: true,
      measurable: true,
      viewable: false,
      kind: 'impression',
    });
    expect(a).toMatchObject({ served: true, measurable: false, viewable: false, max_share: null });
    expect(b.anonymous_id).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('VW02 the viewable signal merges with its touch in either order, and GET answers the GIF', async () => {
    // The verdict first (another process, or the served hit still queued), the touch after.
    const early = await get(`/v?${IDS}&imp_id=IMP-VW2&viewable=1&ttv_ms=1500&max_share=0.8`);
    expect(early.status).toBe(200);
    expect(early.headers.get('content-type')).toBe('image/gif');
    await server.services.pipeline.flush();
    await get(`/i?${IDS}&imp_id=IMP-VW2`);
    const [t] = await touches('imp_id=IMP-VW2');
    expect(t).toMatchObject({
      served: true,
      measurable: true,
      viewable: true,
      time_to_view_ms: 1500,
      max_share: 0.8,
    });
    // A later copy of the verdict and a smaller share change nothing; a larger share counts.
    await beacon(`/v?${IDS}&imp_id=IMP-VW2&viewable=1&ttv_ms=2500&max_share=0.6`);
    await beacon(`/v?${IDS}&imp_id=IMP-VW2&measurable=1&viewable=0&max_share=1`);
    const [again] = await touches('imp_id=IMP-VW2');
    expect(again).toMatchObject({ viewable: true, time_to_view_ms: 1500, max_share: 1 });
  });

  it('VW03 served, then never viewable: the pagehide summary keeps the largest share', async () => {
    await beacon(`/v?${IDS}&imp_id=IMP-VW3&served=1&measurable=1`);
    await beacon(`/v?${IDS}&imp_id=IMP-VW3&measurable=1&viewable=0&max_share=0.40`);
    const [t] = await touches('imp_id=IMP-VW3');
    expect(t).toMatchObject({
      measurable: true,
      viewable: false,
      time_to_view_ms: null,
      max_share: 0.4,
    });
  });

  it('VW04 a tag that cannot measure says so, and stays not measurable', async () => {
    await beacon(`/v?${IDS}&imp_id=IMP-VW4&served=1&measurable=0`);
    const [t] = await touches('imp_id=IMP-VW4');
    expect(t).toMatchObject({ served: true, measurable: false, viewable: false });
    expect(t.view_signal_at).toMatch(/^\d{4}-/);
  });

  it.each([
    ['measurable=2', 'bad_measurable'],
    ['viewable=yes', 'bad_viewable'],
    ['viewable=1&measurable=0', 'bad_viewable'],
    ['viewable=1&ttv_ms=-5', 'bad_ttv_ms'],
    ['viewable=1&ttv_ms=1e9', 'bad_ttv_ms'],
    ['viewable=0&ttv_ms=100', 'bad_ttv_ms'],
    ['viewable=1&max_share=1.5', 'bad_max_share'],
    ['viewable=1&max_share=NaN', 'bad_max_share'],
    ['video=x&measurable=1', 'bad_video'],
    ['', 'empty_signal'],
  ])('VW05 junk %s is counted as %s, answered, and records nothing', async (q, reason) => {
    const before = await invalid(reason);
    const res = await beacon(`/v?${IDS}&imp_id=IMP-VW5-${reason}&${q}`);
    expect(res.status).toBe(204);
    expect(res.headers.get('x-pixeltrail-warnings')).toContain(reason);
    expect(await invalid(reason)).toBe(before + 1);
    expect(await touches(`imp_id=IMP-VW5-${reason}`)).toEqual([]);
    const stored = await server.services.store.ingest((tx) =>
      tx.impressionViews('env_t', [{ dest_id: 'dsp1', imp_id: `IMP-VW5-${reason}` }]),
    );
    expect(stored.size).toBe(0);
  });

  it.each([
    ['/v?dest_id=dsp1&imp_id=X&viewable=1', 'missing_env_id'],
    ['/v?env_id=nope&dest_id=dsp1&imp_id=X&viewable=1', 'unknown_env'],
    ['/v?env_id=env_t&imp_id=X&viewable=1', 'missing_dest_id'],
    ['/v?env_id=env_t&dest_id=zzz&imp_id=X&viewable=1', 'unknown_dest'],
    ['/v?env_id=env_t&dest_id=dsp1&viewable=1', 'missing_imp_id'],
    ['/v?env_id=env_t&dest_id=dsp1&imp_id={imp_id}&viewable=1', 'unexpanded_macro:imp_id'],
  ])('VW06 %s is counted as %s; GET and POST still answer', async (path, reason) => {
    const before = await invalid(reason);
    expect((await get(path)).status).toBe(200);
    expect((await beacon(path)).status).toBe(204);
    expect(await invalid(reason)).toBe(before + 2);
  });

  it('VW07 any body type, an oversized body and a bot are answered 204, never 5xx', async () => {
    const path = `/v?${IDS}&imp_id=IMP-VW7&viewable=1`;
    const bad = await invalid('bad_body');
    const typed = await beacon(path, {
      headers: { 'content-type': 'application/xml' },
      body: '<x/>',
    });
    expect(typed.status).toBe(204);
    const big = await beacon(path, { body: 'x'.repeat(64 * 1024) });
    expect(big.status).toBe(204);
    expect(await invalid('bad_body')).toBe(bad + 1);
    const bots = await invalid('bot');
    const bot = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' },
    });
    expect(bot.status).toBe(204);
    expect(await invalid('bot')).toBe(bots + 1);
  });

  it('VW08 consent: a Sec-GPC hit keeps no measurement and sets no cookie, as /i', async () => {
    const before = await invalid('opted_out');
    const res = await beacon(`/v?${IDS}&imp_id=IMP-VW8&served=1&measurable=1`, {
      headers: { 'sec-gpc': '1' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await invalid('opted_out')).toBe(before + 1);
    expect(await touches('imp_id=IMP-VW8')).toEqual([]);
    const stored = await server.services.store.ingest((tx) =>
      tx.impressionViews('env_t', [{ dest_id: 'dsp1', imp_id: 'IMP-VW8' }]),
    );
    expect(stored.size).toBe(0);
  });
});

describe('GET /api/touches', () => {
  it('VW10 lists the newest touches with every stored field; filters and limit narrow', async () => {
    for (const n of [1, 2, 3])
      await get(`/i?env_id=env_t&dest_id=dsp1&campaign_id=cVW10&imp_id=IMP-VW10-${n}`);
    await get(
      '/c?env_id=env_t&dest_id=dsp1&campaign_id=cVW10&click_id=CLK-VW10&url=https://shop.example/',
    );
    const all = await touches('campaign_id=cVW10');
    expect(all.map((t: { touch_id: string }) => t.touch_id).sort()).toEqual([
      'CLK-VW10',
      'IMP-VW10-1',
      'IMP-VW10-2',
      'IMP-VW10-3',
    ]);
    const click = all.find((t: { kind: string }) => t.kind === 'click');
    expect(click).toMatchObject({
      served: false,
      measurable: null,
      viewable: null,
      user_agent: UA,
    });
    expect(Object.keys(click)).toEqual(
      expect.arrayContaining(['id', 'ip', 'anonymous_id', 'user_id', 'traffic', 'placement_id']),
    );
    expect(await touches('campaign_id=cVW10&kind=click')).toHaveLength(1);
    expect(await touches('campaign_id=cVW10&limit=2')).toHaveLength(2);
    expect(
      await touches(`campaign_id=cVW10&since=${Math.floor(Date.now() / 1000) + 3600}`),
    ).toEqual([]);
  });

  it('VW11 is admin only and names each bad field', async () => {
    const open = await fetch(`${base}/api/touches?env_id=env_t`);
    expect(open.status).toBe(401);
    const missing = await admin(base, '/api/touches');
    expect(missing.status).toBe(400);
    const tooMany = await admin(base, '/api/touches?env_id=env_t&limit=5000');
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain('limit');
    const since = await admin(base, '/api/touches?env_id=env_t&since=yesterday');
    expect(since.status).toBe(400);
    expect(JSON.stringify(since.body)).toContain('since');
  });
});

describe('the live debugger', () => {
  it('VW12 /api/live streams each committed viewability signal, named view', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${base}/api/live?env_id=env_t&event_name=view`, {
      headers: { authorization: 'Bearer adm' },
      signal: ctl.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const next = async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    };
    await next(); // connected
    await get(`/i?${IDS}&imp_id=IMP-VW12`);
    await beacon(`/v?${IDS}&imp_id=IMP-VW12&viewable=1&ttv_ms=1300&max_share=0.9`);
    await server.services.pipeline.flush();
    while (!text.includes('event: view')) await next();
    ctl.abort();
    const block = text.slice(text.indexOf('event: view')).split('\n\n')[0];
    const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}');
    expect(data.view).toMatchObject({
      imp_id: 'IMP-VW12',
      viewable: true,
      time_to_view_ms: 1300,
      max_share: 0.9,
    });
    // The filter named `view`: the impression's touch went by and was left out.
    expect(text).not.toContain('event: touch');
  });
});

describe('the tag assets', () => {
  it('VW20 /v.js is under 1.5 KB gzipped, cacheable, revalidated by ETag', async () => {
    const res = await fetch(`${base}/v.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toMatch(/public/);
    const raw = await fetch(`${base}/v.js`, { headers: { 'accept-encoding': 'identity' } });
    const code = await raw.text();
    expect(code).toContain('IntersectionObserver');
    expect(server.services.viewTag?.gzip.length).toBeLessThan(1536);
    const etag = res.headers.get('etag') ?? '';
    expect((await fetch(`${base}/v.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('VW21 /v.html runs only the tag: inline, allowed by its hash, beacons to its own origin', async () => {
    const res = await fetch(`${base}/v.html?env_id=env_t&dest_id=dsp1&imp_id=X`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBeNull();
    const html = await res.text();
    expect(html).toContain('IntersectionObserver');
    expect(html).not.toMatch(/<script[^>]+src=/);
  });
});
