import { describe, expect, it } from 'vitest';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { loopTurnsDuring } from '../helpers/loop-turns.js';
import { admin, startedPerTest, tempDir, testConfig } from '../helpers/pixeltrail.js';

// A full recompute evaluates every person with data in the audience's window. On SQLite each
// query is synchronous: without turns of the event loop between persons, saving an audience
// on a store of 300,000 touches and 30,000 conversions held the server 28 s (issue 22,
// twelfth round).

const startPixeltrail = startedPerTest();
/** About 0.75 s of work here: dozens of 10 ms budgets even on a box ten times as fast. */
const PERSONS = 3_000;

describe('a full audience recompute on SQLite', () => {
  it('AR01 evaluates every person, the event loop turning while it runs', async () => {
    const { server, base } = await startPixeltrail(
      testConfig('http://127.0.0.1:9/hook'),
      tempDir(),
    );
    const audiences = server.services.audiences;
    await audiences.stop();
    const created = await admin(base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Buyers',
      rules: { all: [{ event: 'Purchase', within: '30d' }] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const nowMs = Date.now();
    const events = Array.from({ length: PERSONS }, (_, i) => ({
      pk: `ar${i}`,
      env_id: 'env_t',
      event_name: i % 3 === 0 ? 'PageView' : 'Purchase',
      event_id: `ar${i}`,
      event_time: Math.floor(nowMs / 1000) - i,
      received_at_ms: nowMs - i * 1000,
      source: 'server',
      anonymous_id: `anon-${i}`,
      user_id: null,
      value: null,
      currency: null,
      data: JSON.stringify({ event_name: 'Purchase', properties: {}, user: {} }),
      duplicate_count: 0,
      traffic: null,
    }));
    for (let at = 0; at < events.length; at += 300)
      await (server.services.store as KyselyStore).db
        .insertInto('events')
        .values(events.slice(at, at + 300))
        .execute();
    const { value: size, turns } = await loopTurnsDuring(() =>
      audiences.recompute(created.body.id as string),
    );
    expect(size).toBe(PERSONS - Math.ceil(PERSONS / 3));
    // Without the turns, none: the whole recompute ran before any other callback.
    expect(turns).toBeGreaterThanOrEqual(3);
  });
});
