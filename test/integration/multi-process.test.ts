import { afterAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChild, writeConfig } from '../helpers/child-server.js';
import {
  admin,
  postEvents,
  purchase,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const CONVERSIONS = 2000;
const hasPostgres = await postgresAvailable();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!hasPostgres)('several serve processes on one PostgreSQL', () => {
  it('P01 a pixel on one process, conversions on all three, a worker killed mid-run: each conversion arrives, once per key', async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    let killedAt = 0;
    const hook: Receiver = await startReceiver(() => 200);
    cleanups.push(() => hook.close());
    const dir = tempDir();
    // Throughput over strict order here: 8 requests in flight to the one webhook.
    const cfg = writeConfig(dir, {
      ...testConfig(`${hook.url}/hook`, { max_in_flight: 8 }),
      delivery_lease: '3s',
    });
    const env = { DATABASE_URL: db.url };
    const servers: ChildServer[] = [];
    // Started together: the migrations must survive concurrent starts.
    servers.push(
      ...(await Promise.all([0, 1, 2].map(() => startChild(cfg, `${dir}/data`, undefined, env)))),
    );
    for (const s of servers) cleanups.push(() => s.stop());

    await fetch(`${servers[0].base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-MP`, {
      headers: { 'user-agent': UA },
    });
    // The impression is committed before the conversions arrive (the pixel answers first).
    await waitFor(async () => (await admin(servers[0].base, '/api/stats')).body.impressions === 1);
    const batches = [];
    for (let i = 0; i < CONVERSIONS; i += 100) {
      const target = servers[(i / 100) % 3];
      batches.push(
        postEvents(
          target.base,
          Array.from({ length: 100 }, (_, k) => purchase(`ord-mp-${i + k}`)),
        ),
      );
    }
    const answers = await Promise.all(batches);
    expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(CONVERSIONS);

    await waitFor(() => hook.got.length >= 300, 30_000, 10);
    await servers[2].kill9();
    killedAt = hook.got.length;

    const keys = () => new Set(hook.got.map((g) => g.headers['idempotency-key']));
    await waitFor(() => keys().size === CONVERSIONS, 90_000, 100);
    // Rows the killed process sent but could not record come back when its lease (3 s)
    // expires and are sent again with the same key; wait for the outbox to settle: every row
    // delivered and none pending (a row is recorded only after the receiver answered), so no
    // send is left to come.
    await waitFor(
      async () => {
        const s = (await admin(servers[0].base, '/api/stats')).body;
        return s.outbox_delivered === CONVERSIONS && s.outbox_pending === 0;
      },
      30_000,
      200,
    );
    const stats = (await admin(servers[0].base, '/api/stats')).body;
    expect(stats).toMatchObject({
      conversions: CONVERSIONS,
      attributed: CONVERSIONS,
      outbox_delivered: CONVERSIONS,
      outbox_pending: 0,
    });
    const bodies = hook.got.map((g) => JSON.parse(g.body));
    expect(bodies.every((b) => b.attribution.imp_id === 'IMP-MP')).toBe(true);
    // Only sends in flight in the killed process at the kill can arrive twice (same key).
    const repeats = hook.got.length - CONVERSIONS;
    expect(repeats).toBeLessThanOrEqual(hook.got.length - killedAt);
    console.log(
      `multi-process: ${CONVERSIONS} conversions, ${repeats} repeated sends after SIGKILL`,
    );

    // One event id sent to both live processes at once, many times: one event, the rest duplicates.
    const copies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postEvents(servers[i % 2].base, [purchase('ord-mp-race')]),
      ),
    );
    expect(copies.reduce((n, c) => n + c.body.accepted, 0)).toBe(1);
    expect(copies.reduce((n, c) => n + c.body.duplicates, 0)).toBe(19);
  }, 180_000); // three servers and 2,000 deliveries on a 2-core machine
});
