import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PENDING_EVENTS } from '../../src/ingest/ingest-pipeline.js';
import type { Server } from '../../src/server.js';
import { runLoad } from '../helpers/http-load.js';
import {
  admin,
  postEvents,
  purchase,
  sleep,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

let running: Server | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const BATCH = 1000;
/** Half again as many events as the queue holds, sent at once. */
const REQUESTS = Math.ceil((MAX_PENDING_EVENTS * 1.5) / BATCH);
const OTHER_BUYER = { ip: '198.51.100.8', user_agent: 'backend' };

describe('faults: more load than the box can take', () => {
  it('F06 the event queue stays bounded: the API answers 503 + Retry-After past it, the pixel keeps answering, the refused batch is taken on retry', async () => {
    const { server, base } = await startPixeltrail(
      testConfig('http://127.0.0.1:9/hook'),
      tempDir(),
    );
    running = server;
    let maxPending = 0;
    const watch = setInterval(() => {
      maxPending = Math.max(maxPending, server.services.pipeline.pending);
    }, 5);
    const batchOf = (i: number) =>
      Array.from({ length: BATCH }, (_, k) => purchase(`ov-${i}-${k}`, { user: OTHER_BUYER }));
    let done = false;
    const pixels = runLoad(
      base,
      100_000,
      4,
      (i) => ({
        path: `/i?env_id=env_t&dest_id=dsp1&imp_id=OV-${i}`,
        headers: { 'user-agent': UA },
      }),
      undefined,
      () => !done,
    );
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await fetch(`${base}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
          body: JSON.stringify({ events: batchOf(i) }),
        });
        return {
          i,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: await res.json(),
        };
      }),
    );
    done = true;
    const hits = await pixels;
    clearInterval(watch);

    const refused = answers.filter((a) => a.status === 503);
    const taken = answers.filter((a) => a.status === 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(taken.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.body.error.code).toBe('overloaded');
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    expect(maxPending).toBeLessThanOrEqual(MAX_PENDING_EVENTS + 2000);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.status === 200)).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /pixeltrail_ingest_dropped_total\{kind="event",reason="queue_full"\} [1-9]/,
    );

    // The client does as told: waits, sends the refused batches again, and they are taken.
    await sleep(Number(refused[0].retryAfter) * 1000);
    for (const r of refused) {
      let again = await postEvents(base, batchOf(r.i));
      while (again.status === 503) {
        await sleep(1000);
        again = await postEvents(base, batchOf(r.i));
      }
      expect(again.body.accepted).toBe(BATCH);
    }
    const stats = (await admin(base, '/api/stats')).body;
    expect(stats.events).toBe(REQUESTS * BATCH);
    expect(stats.duplicates).toBe(0);
  }, 180_000);
});
