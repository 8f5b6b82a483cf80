/**
 * Requests whose URL or headers are larger than node:http reads (client-error.ts): an image
 * endpoint still answers the GIF and counts the hit when the request came in one read; an API
 * answers our JSON error. Below the limit, a long pixel URL is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_HEAD_BYTES } from '../../src/http/client-error.js';
import type { Server } from '../../src/server.js';
import { metricValue, startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';
import { rawRequest as sendRaw } from '../helpers/raw-request.js';

let server: Server;
let base: string;
let port: number;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
  port = Number(new URL(base).port);
});
afterAll(async () => {
  await server?.close();
});

const rawRequest = (request: string) => sendRaw(port, request);

function answer(raw: Buffer): { status: number; headers: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.subarray(0, end).toString('latin1').toLowerCase();
  return { status: Number(headers.split(' ')[1]), headers, body: raw.subarray(end + 4) };
}

const metric = (name: string, labels: string) => metricValue(base, name, labels);

const pad = (n: number) => 'x'.repeat(n);
const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: ${UA}\r\n${extra}\r\n`;

describe('oversized requests', () => {
  it('OV01 a pixel URL past the limit that arrives in one read (from a proxy beside the server) gets the GIF and is counted', async () => {
    const targets = {
      i: `/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-OV1&pad=${pad(MAX_REQUEST_HEAD_BYTES)}`,
      p: `/p?env_id=env_t&ev=Lead&pad=${pad(MAX_REQUEST_HEAD_BYTES)}`,
      snowplow: `/i?e=pv&aid=env_t&pad=${pad(MAX_REQUEST_HEAD_BYTES)}`,
    };
    for (const [endpoint, target] of Object.entries(targets)) {
      const before = await metric(
        'pixeltrail_invalid_hits_total',
        `endpoint="${endpoint}",reason="request_too_large"`,
      );
      const res = answer(await rawRequest(get(target)));
      expect(res.status, endpoint).toBe(200);
      expect(res.headers).toContain('content-type: image/gif');
      expect(res.headers).toContain('x-pixeltrail-warnings: request_too_large');
      expect(res.body.subarray(0, 6).toString()).toBe('GIF89a');
      expect(
        await metric(
          'pixeltrail_invalid_hits_total',
          `endpoint="${endpoint}",reason="request_too_large"`,
        ),
      ).toBe(before + 1);
    }
  });

  it('OV02 a cookie header past the limit on /i gets the GIF too', async () => {
    const res = answer(
      await rawRequest(
        get(
          '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-OV2',
          `cookie: a=${pad(MAX_REQUEST_HEAD_BYTES)}\r\n`,
        ),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers).toContain('content-type: image/gif');
    expect(
      await metric('pixeltrail_invalid_hits_total', 'endpoint="i",reason="request_too_large"'),
    ).toBe(2);
  });

  it('OV03 an API request past the limit is a 431 with our JSON error', async () => {
    const res = answer(
      await rawRequest(get('/v1/events', `x-filler: ${pad(MAX_REQUEST_HEAD_BYTES)}\r\n`)),
    );
    expect(res.status).toBe(431);
    expect(res.headers).toContain('content-type: application/json');
    expect(JSON.parse(res.body.toString()).error.code).toBe('headers_too_large');
  });

  it('OV03b HEAD with a head past the limit is a 431 with no body, on an API and a pixel alike', async () => {
    for (const target of [
      '/v1/events',
      '/api/stats',
      '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-OV3',
    ]) {
      const raw = await rawRequest(
        `HEAD ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-filler: ${pad(MAX_REQUEST_HEAD_BYTES)}\r\n\r\n`,
      );
      const res = answer(raw);
      expect(res.status, target).toBe(431);
      expect(res.headers).toContain('content-type: application/json');
      expect(res.body.length, target).toBe(0);
    }
  });

  it('OV04 a 20 KB pixel URL, under the limit and over the 16 KB node:http default, is recorded', async () => {
    const res = await fetch(
      `${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-OV4&pad=${pad(20_000)}`,
      {
        headers: { 'user-agent': UA },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixeltrail-warnings')).toBeNull();
    await server.services.pipeline.flush();
    const touches = await server.services.store.ingest((tx) =>
      tx.findTouches({ env_id: 'env_t', anonymous_ids: [], touch_ids: ['IMP-OV4'], since: 0 }),
    );
    expect(touches).toHaveLength(1);
  });
});
