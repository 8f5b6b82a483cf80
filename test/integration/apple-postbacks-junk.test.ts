/**
 * The postback paths take anything from anyone (Apple's devices carry no credential): what is
 * not verified is counted whole and kept as a bounded sample per environment and hour, so an
 * anonymous sender cannot grow the database without bound (review finding 7 of issue 25).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { signedSkan, testSigner } from '../fixtures/apple-postbacks.js';
import { admin, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

const SKAN = '/.well-known/skadnetwork/report-attribution/';
const HOUR_MS = 3_600_000;
/** The default `apple_postbacks.unverified_kept_per_hour`. */
const KEPT_PER_HOUR = 30;
const signer = testSigner();

let server: Server;
let base: string;
// A stepped clock, a minute into an hour.
let now = Date.UTC(2026, 0, 5, 10, 1);

beforeAll(async () => {
  const cfg = testConfig('http://127.0.0.1:9/hook');
  ({ server, base } = await startPixeltrail(
    {
      ...cfg,
      apps: [{ app_id: 1234567890, platform: 'ios', env_id: 'env_t' }],
      apple_postbacks: { test_keys: [{ id: 'ci', public_key: signer.publicKey }] },
    },
    tempDir(),
    { nowMs: () => now },
  ));
});
afterAll(async () => server?.close());

async function post(body: unknown, type = 'application/json') {
  const res = await fetch(`${base}${SKAN}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

async function list(query: string) {
  const res = await admin(base, `/api/postbacks?${query}&limit=500`);
  expect(res.status).toBe(200);
  return res.body;
}

async function metric(result: string, name = 'pixeltrail_apple_postbacks_total'): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const prefix = `${name}{framework="skadnetwork",result="${result}"}`;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const notKept = (result: string) => metric(result, 'pixeltrail_apple_postbacks_not_kept_total');

describe('unverified postbacks are a bounded sample', () => {
  it('APB11 many distinct junk bodies leave a bounded number of rows; metrics count them all', async () => {
    for (let i = 0; i < 100; i++) await post(`junk ${i} ${'x'.repeat(i)}`, 'text/plain');
    // A forged postback naming a configured app lands in that app's environment, bounded too.
    for (let i = 0; i < 100; i++)
      await post({ ...signedSkan(signer), 'source-identifier': String(1000 + i) });
    const genuine = signedSkan(signer);
    await post(genuine);
    expect(await metric('malformed')).toBe(100);
    expect(await metric('bad_signature')).toBe(100);
    expect(await metric('verified')).toBe(1);
    const unclaimed = await list('unclaimed=true');
    expect(unclaimed.postbacks).toHaveLength(KEPT_PER_HOUR);
    expect(unclaimed.postbacks.every((r: any) => r.reason === 'malformed')).toBe(true);
    const env = await list('env_id=env_t');
    expect(env.postbacks.filter((r: any) => !r.verified)).toHaveLength(KEPT_PER_HOUR);
    expect(env.postbacks.filter((r: any) => r.reason === 'bad_signature')).toHaveLength(
      KEPT_PER_HOUR,
    );
    // The verified postback is stored whatever came before it.
    expect(env.postbacks.filter((r: any) => r.verified)).toMatchObject([
      { transaction_id: genuine['transaction-id'], verified: true },
    ]);
    // What was received and what was kept, per environment, stored (metrics restart at zero).
    expect(env.unverified_last_24h).toEqual({ received: 100, kept: KEPT_PER_HOUR });
    expect(unclaimed.unverified_last_24h).toEqual({ received: 100, kept: KEPT_PER_HOUR });
    expect(await notKept('malformed')).toBe(100 - KEPT_PER_HOUR);
    expect(await notKept('bad_signature')).toBe(100 - KEPT_PER_HOUR);
  });

  it('APB12 the next hour keeps a new sample; a kept body is cut to 2 KB, and says so', async () => {
    now += HOUR_MS;
    await post(`{"big": "${'y'.repeat(10_000)}"`, 'application/json');
    const rows = (await list('unclaimed=true')).postbacks;
    expect(rows).toHaveLength(KEPT_PER_HOUR + 1);
    expect(rows[0].body).toHaveLength(2048);
    expect(rows[0].reason).toBe('malformed');
    expect(rows[0].reason_detail).toMatch(/body cut to 2048 of 10010 characters/);
    // An identical copy of a kept body only counts a duplicate.
    await post(`junk 0 `, 'text/plain');
    expect(await metric('duplicate')).toBe(1);
  });

  it('APB13 GET /api/postbacks pages by id: every row once, a null cursor at the end, at most 500 a page', async () => {
    const all = (await list('unclaimed=true')).postbacks.map((r: any) => r.id);
    const seen: number[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const res = await admin(base, `/api/postbacks?unclaimed=true&limit=7${cursor}`);
      seen.push(...res.body.postbacks.map((r: any) => r.id));
      if (res.body.next_before_id === null) break;
      cursor = `&before_id=${res.body.next_before_id}`;
    }
    expect(seen).toEqual(all);
    const tooMany = await admin(base, '/api/postbacks?unclaimed=true&limit=501');
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain('limit');
  });
});
