/**
 * Behind a proxy the client address is the one the proxy saw (issue 18, item 6):
 * `trust_proxy` as true (one hop), a hop count or the proxies' CIDRs; the client is the
 * rightmost `X-Forwarded-For` entry no trusted proxy wrote — on the pixel fast path and in
 * Fastify alike, for what is stored and for the rate limits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

const started: Server[] = [];
afterAll(async () => {
  for (const s of started) await s.close();
});

async function start(trust_proxy: unknown, opts: { fastPaths?: boolean } = {}, per_ip = 0) {
  const r = await startPixeltrail(
    {
      ...testConfig('http://127.0.0.1:9/hook', {}, { ip_storage: 'raw' }),
      trust_proxy,
      rate_limit: { per_ip, per_key: 0 },
    },
    tempDir(),
    opts,
  );
  started.push(r.server);
  return r;
}

let n = 0;
/** The IP stored for one pixel hit with this X-Forwarded-For (the socket is 127.0.0.1). */
async function storedIp(r: { server: Server; base: string }, xff?: string): Promise<string> {
  const cookie = `tp${String(++n).padStart(8, '0')}`;
  const res = await fetch(`${r.base}/i?env_id=env_t&dest_id=dsp1&imp_id=TP-${n}`, {
    headers: {
      'user-agent': UA,
      cookie: `ptid=${cookie}`,
      ...(xff ? { 'x-forwarded-for': xff } : {}),
    },
  });
  expect(res.status).toBe(200);
  await r.server.services.pipeline.flush();
  const found = await r.server.services.store.findSubject({
    env_id: 'env_t',
    anonymous_id: cookie,
  });
  return String(found.touches[0]?.ip);
}

describe('trust_proxy', () => {
  it('TP01 true trusts one proxy: the rightmost entry, not the one the client wrote', async () => {
    for (const pixelFastPath of [true, false]) {
      const r = await start(true, { fastPaths: pixelFastPath });
      expect(await storedIp(r, '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
      expect(await storedIp(r, '203.0.113.9')).toBe('203.0.113.9');
      expect(await storedIp(r)).toBe('127.0.0.1');
    }
  });

  it('TP02 a hop count trusts that many proxies from the right', async () => {
    for (const pixelFastPath of [true, false]) {
      const r = await start(2, { fastPaths: pixelFastPath });
      expect(await storedIp(r, '6.6.6.6, 203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
    }
  });

  it('TP03 a CIDR list: the rightmost address that is not one of the proxies', async () => {
    for (const pixelFastPath of [true, false]) {
      const r = await start(['127.0.0.1', '10.0.0.0/8'], { fastPaths: pixelFastPath });
      expect(await storedIp(r, '6.6.6.6, 203.0.113.9, 10.0.0.2, 10.1.2.3')).toBe('203.0.113.9');
      // Every hop trusted: the farthest one is the client.
      expect(await storedIp(r, '10.9.9.9, 10.0.0.2')).toBe('10.9.9.9');
    }
  });

  it('TP04 a peer that is not a listed proxy is the client, whatever it forwards', async () => {
    for (const pixelFastPath of [true, false]) {
      const r = await start('10.0.0.0/8', { fastPaths: pixelFastPath });
      expect(await storedIp(r, '6.6.6.6, 203.0.113.9')).toBe('127.0.0.1');
    }
  });

  it('TP05 without trust_proxy the forwarded header is ignored', async () => {
    const r = await start(false);
    expect(await storedIp(r, '203.0.113.9')).toBe('127.0.0.1');
  });

  it('TP06 the rate limit counts the address the proxy saw: invented leftmost entries do not escape it', async () => {
    for (const pixelFastPath of [true, false]) {
      const r = await start(true, { fastPaths: pixelFastPath }, 3);
      const hit = (xff: string) =>
        fetch(`${r.base}/i?env_id=env_t&dest_id=dsp1&imp_id=TP-RL`, {
          headers: { 'user-agent': UA, 'x-forwarded-for': xff },
        }).then((res) => res.status);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push(await hit(`192.0.2.${i}, 203.0.113.9`));
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      // Another client behind the same proxy has its own limit.
      expect(await hit('203.0.113.10')).toBe(200);
    }
  });
});
