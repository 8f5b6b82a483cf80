/**
 * Every JSON route that ingests answers a refusal the same way (issue 21): 503 with
 * Retry-After, and the request taken when sent again. Segment's and Snowplow's routes used
 * to answer 503 without Retry-After.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_EVENTS } from '../../src/ingest/ingest-pipeline.js';
import type { Server } from '../../src/server.js';
import {
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';

let server: Server;
let base: string;
/** Opens the held store: commits wait for it, as on a disk that stalls. */
let release: () => void = () => undefined;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
  const store = server.services.store;
  const ingest = store.ingest.bind(store);
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  store.ingest = (async (work) => {
    await held;
    return ingest(work);
  }) as typeof store.ingest;
});
afterAll(async () => {
  release();
  await server.close();
});

const BUYER = { ip: '198.51.100.20', user_agent: 'backend' };

function postJson(path: string, body: unknown, authorization: string) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization, 'user-agent': UA },
    body: JSON.stringify(body),
  });
}

const segmentTrack = () =>
  postJson(
    '/v1/track',
    { userId: 'seg-over-1', event: 'Order Completed', messageId: 'seg-over-1' },
    `Basic ${Buffer.from('wk_t:').toString('base64')}`,
  );

const snowplowEvent = () =>
  postJson(
    '/com.snowplowanalytics.snowplow/tp2',
    {
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: [{ e: 'pv', aid: 'env_t', p: 'srv', eid: 'sp-over-1', tv: 'node-3.0.0', uid: 'u1' }],
    },
    '',
  );

describe('ingest refusals', () => {
  it('IR01 with the event queue full, /v1/events, Segment and Snowplow all answer 503 + Retry-After; sent again after the store catches up, they are taken', async () => {
    // Fill the queue to exactly its bound while the store holds every commit.
    const fillers: Promise<Response>[] = [];
    let n = 0;
    while (server.services.pipeline.pending < MAX_PENDING_EVENTS) {
      const room = MAX_PENDING_EVENTS - server.services.pipeline.pending;
      const before = server.services.pipeline.pending;
      const events = Array.from({ length: Math.min(1000, room) }, () =>
        purchase(`fill-${n++}`, { user: BUYER }),
      );
      fillers.push(postJson('/v1/events', { events }, 'Bearer wk_t'));
      await waitFor(() => server.services.pipeline.pending !== before);
    }

    const answers = [
      await postJson('/v1/events', { events: [purchase('api-over-1')] }, 'Bearer wk_t'),
      await segmentTrack(),
      await snowplowEvent(),
    ];
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await res.json()).error.code).toBe('overloaded');
    }

    release();
    for (const res of await Promise.all(fillers)) expect(res.status).toBe(200);
    const segment = await segmentTrack();
    expect(segment.status).toBe(200);
    expect(await segment.json()).toMatchObject({ accepted: 1, duplicates: 0 });
    const snowplow = await snowplowEvent();
    expect(snowplow.status).toBe(200);
    expect(await snowplow.json()).toMatchObject({ accepted: 1, duplicates: 0, errors: [] });
  }, 60_000);
});
