/**
 * Routes with an error handler of their own (the tag's beacon, the viewability signal, Apple's
 * postbacks) answer a client over its per-IP limit as every route does: the limiter's 429
 * with Retry-After. Their handlers once read only Fastify's `statusCode`, not the limiter's
 * `status`, and answered such a request as a failure of their own (204 or 503, logged).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { metricValue, startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

const PER_IP = 2;
let server: Server;
let base: string;

beforeAll(async () => {
  const config = { ...testConfig('http://127.0.0.1:9/hook'), rate_limit: { per_ip: PER_IP } };
  // Fastify alone: the fast paths hand a limited client to it, and this is its answer.
  ({ server, base } = await startPixeltrail(config, tempDir(), { fastPaths: false }));
});
afterAll(async () => {
  await server.close();
});

const routes: [string, string, string][] = [
  ['/e', 'text/plain', JSON.stringify({ events: [{ env_id: 'env_t', event_name: 'Lead' }] })],
  ['/v?env_id=env_t&imp_id=IMP-1&measurable=1&viewable=1', 'text/plain', ''],
  ['/.well-known/skadnetwork/report-attribution/', 'application/json', '{}'],
];

describe('a client over its per-IP limit on routes with their own error handler', () => {
  it('RL01 gets the limiter 429 with Retry-After, not counted as an error of the route', async () => {
    // One client (127.0.0.1) throughout: each route's last request is over the limit.
    for (const [path, type, body] of routes) {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i <= PER_IP; i++) {
        last = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': type, 'user-agent': UA },
          body,
        });
        statuses.push(last.status);
      }
      expect(statuses.at(-1), path).toBe(429);
      expect(last?.headers.get('retry-after'), path).toBeTruthy();
    }
    expect(await metricValue(base, 'pixeltrail_invalid_hits_total', 'reason="error"')).toBe(0);
    expect(
      await metricValue(base, 'pixeltrail_apple_postbacks_total', 'result="store_failed"'),
    ).toBe(0);
  });
});
