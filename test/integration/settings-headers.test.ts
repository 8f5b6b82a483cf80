/**
 * No response can be poisoned through headers (issue 18, item 5): the analytics.js settings
 * (`/v1/projects/:write_key/settings`) name the collector's address; a shared cache must
 * never keep one that a request's Host or X-Forwarded-Host chose.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

const started: Server[] = [];
afterAll(async () => {
  for (const s of started) await s.close();
});

async function settings(
  extra: Record<string, unknown>,
  url: string,
  headers: Record<string, string>,
) {
  const { server } = await startPixeltrail(
    { ...testConfig('http://127.0.0.1:9/hook'), ...extra },
    tempDir(),
  );
  started.push(server);
  const res = await server.app.inject({ url, headers });
  return {
    status: res.statusCode,
    cache: res.headers['cache-control'],
    vary: String(res.headers.vary ?? ''),
    segment: res.json().integrations['Segment.io'],
  };
}

describe('settings for analytics.js', () => {
  it('H01 with a public URL the answer names it, whatever Host and X-Forwarded-Host say, and may be cached publicly', async () => {
    const r = await settings(
      { public_url: 'https://collect.shop.example/metrics-xyz/', trust_proxy: true },
      '/v1/projects/wk_t/settings',
      { host: 'evil.example', 'x-forwarded-host': 'evil2.example', 'x-forwarded-proto': 'http' },
    );
    expect(r.status).toBe(200);
    expect(r.segment).toEqual({
      apiKey: 'wk_t',
      apiHost: 'collect.shop.example/metrics-xyz/v1',
      protocol: 'https',
    });
    expect(r.cache).toBe('public, max-age=300');
  });

  it('H02 without one the answer follows Host, varies by it, and no shared cache may keep it', async () => {
    const r = await settings({}, '/v1/projects/wk_t/settings', { host: 'shop.example' });
    expect(r.segment.apiHost).toBe('shop.example/v1');
    expect(r.cache).toBe('private, max-age=300');
    expect(r.vary.split(', ')).toContain('Host');
  });

  it('H03 behind a trusted proxy it varies by the forwarded host and scheme too, and keeps the path prefix', async () => {
    const r = await settings(
      { trust_proxy: true, path_prefix: '/metrics-xyz' },
      '/metrics-xyz/v1/projects/wk_t/settings',
      { host: 'internal:8080', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' },
    );
    expect(r.segment).toMatchObject({ apiHost: 'shop.example/metrics-xyz/v1', protocol: 'https' });
    expect(r.cache).toBe('private, max-age=300');
    expect(r.vary.split(', ')).toEqual(
      expect.arrayContaining(['Host', 'X-Forwarded-Host', 'X-Forwarded-Proto']),
    );
  });
});
