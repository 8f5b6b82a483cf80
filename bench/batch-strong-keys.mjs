// The batch ingest on PostgreSQL when events carry strong keys (issue 22, twenty-second
// round): batches of 100 Purchases that each carry a user id and an e-mail beside a browser
// id, against batches of 100 that carry only a browser id, in turns. Each buyer signed up
// before (their browser linked to their user id) and clicked under that browser. In process,
// on a fresh database; prints each kind's median and range of a batch's wall time and this
// process's CPU a batch.
//
// After `npm run build`:
//   node bench/batch-strong-keys.mjs [--batches 40] [--pg URL]
import { parseArgs } from 'node:util';
import { browserTouch, dist, openBenchStore, serverEvent } from './in-process-pg.mjs';

const DAY_S = 86_400;
const BATCH = 100;
const ENV = {
  id: 'env_keys',
  name: 'Keys',
  write_key: 'wk_keys',
  destinations: [
    { id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/h', events: ['Purchase'] },
  ],
};

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '40' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const BATCHES = Number(values.batches);

const { processBatch } = await dist('ingest/ingest-pipeline.js');

const nowMs = Date.now();
const nowS = Math.floor(nowMs / 1000);
const { store, env, close } = await openBenchStore(
  values.pg,
  `pixeltrail_bench_keys_${process.pid}`,
  ENV,
);
const event = (event_name, event_id, event_time, user) =>
  serverEvent(env.id, event_name, event_id, event_time, user);
let n = 0;
const ctx = {
  environment: (id) => (id === env.id ? env : undefined),
  nowMs,
  newId: () => (++n).toString(36),
};
try {
  // Every buyer of both kinds, signed up and clicked before.
  const people = 2 * BATCHES * BATCH;
  for (let at = 0; at < people; at += 1000) {
    const touches = [];
    const signups = [];
    for (let p = at; p < Math.min(people, at + 1000); p++) {
      touches.push(
        browserTouch(
          env.id,
          'click',
          `t${p}`,
          `c${p % 7}`,
          nowS - 3 * DAY_S + (p % DAY_S),
          `a${p}`,
        ),
      );
      signups.push(
        event('Signup', `s${p}`, nowS - 2 * DAY_S + (p % DAY_S), {
          anonymous_id: `a${p}`,
          user_id: `u${p}`,
        }),
      );
    }
    await store.insertTouches(touches);
    await store.ingest((tx) => processBatch(tx, signups, ctx));
  }
  await store.refreshStatistics();
  const kinds = {
    'browser id only': (p) => ({ anonymous_id: `a${p}` }),
    'user id, e-mail and a new browser id': (p) => ({
      anonymous_id: `n${p}`,
      user_id: `u${p}`,
      email_sha256: `e${p}`.padEnd(64, '0'),
    }),
  };
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, { wall: [], cpu: 0 }]));
  for (let b = 0; b < BATCHES; b++)
    for (const [i, [kind, user]] of Object.entries(kinds).entries()) {
      const first = (2 * b + i) * BATCH;
      const purchases = Array.from({ length: BATCH }, (_, k) =>
        event('Purchase', `o${first + k}`, nowS - DAY_S + k, user(first + k)),
      );
      const started = performance.now();
      const cpu = process.cpuUsage();
      await store.ingest((tx) => processBatch(tx, purchases, ctx));
      const used = process.cpuUsage(cpu);
      times[kind].wall.push(performance.now() - started);
      times[kind].cpu += (used.user + used.system) / 1000;
    }
  for (const [kind, { wall, cpu }] of Object.entries(times)) {
    // The first batches warm the connections' prepared statements; the rest are measured.
    const kept = wall.slice(Math.min(5, wall.length - 1)).sort((a, b) => a - b);
    const median = kept[Math.floor(kept.length / 2)];
    console.log(
      `${kind}: batch of ${BATCH} Purchases ${median.toFixed(1)} ms median ` +
        `(${kept[0].toFixed(1)}–${kept[kept.length - 1].toFixed(1)}), ` +
        `pixeltrail CPU ${(cpu / wall.length).toFixed(1)} ms a batch`,
    );
  }
} finally {
  await close();
}
