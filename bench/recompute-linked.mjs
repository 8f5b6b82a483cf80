// `attribution recompute` on PostgreSQL over Purchases that carry only strong keys (issue 22,
// twenty-first round): each person has three touches under a browser id, a page view that
// joins that browser to their user id, their e-mail or both, and a Purchase with only those,
// so every path is found through identity links. In process, on a fresh database; prints the
// wall time and this process's CPU of each recompute of them all.
//
// After `npm run build`:
//   node bench/recompute-linked.mjs [--people 20000] [--runs 3] [--pg URL]
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { browserTouch, dist, openBenchStore, serverEvent } from './in-process-pg.mjs';

const DAY_S = 86_400;
const CHUNK = 500;
const ENV = {
  id: 'env_linked',
  name: 'Linked',
  write_key: 'wk_linked',
  destinations: [
    { id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/h', events: ['Purchase'] },
  ],
};

const { values } = parseArgs({
  options: {
    people: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const PEOPLE = Number(values.people);

const { processBatch } = await dist('ingest/ingest-pipeline.js');
const { recomputePaths } = await dist('reports/recompute-paths.js');

const nowMs = Date.now();
const nowS = Math.floor(nowMs / 1000);
/** A user id for two people in three, an e-mail for two in three: one or both. */
const keysOf = (p) => ({
  ...(p % 3 !== 2 ? { user_id: `u${p}` } : {}),
  ...(p % 3 !== 0 ? { email_sha256: createHash('sha256').update(`p${p}@x`).digest('hex') } : {}),
});
const { store, env, close } = await openBenchStore(
  values.pg,
  `pixeltrail_bench_linked_${process.pid}`,
  ENV,
);
const event = (event_name, event_id, event_time, user) =>
  serverEvent(env.id, event_name, event_id, event_time, user);
try {
  const ctx = {
    environment: (id) => (id === env.id ? env : undefined),
    nowMs,
    newId: () => Math.random().toString(36).slice(2),
  };
  for (let at = 0; at < PEOPLE; at += CHUNK) {
    const touches = [];
    const views = [];
    const purchases = [];
    for (let p = at; p < Math.min(PEOPLE, at + CHUNK); p++) {
      for (let k = 0; k < 3; k++)
        touches.push(
          browserTouch(
            env.id,
            k === 0 ? 'click' : 'impression',
            `t${p}-${k}`,
            `c${p % 7}`,
            nowS - 20 * DAY_S + (p % DAY_S) + k * 3600,
            `a${p}`,
          ),
        );
      views.push(
        event('PageView', `v${p}`, nowS - 15 * DAY_S + (p % DAY_S), {
          anonymous_id: `a${p}`,
          ...keysOf(p),
        }),
      );
      purchases.push(event('Purchase', `o${p}`, nowS - 10 * DAY_S + (p % DAY_S), keysOf(p)));
    }
    await store.insertTouches(touches);
    await store.ingest((tx) => processBatch(tx, views, ctx));
    await store.ingest((tx) => processBatch(tx, purchases, ctx));
  }
  await store.refreshStatistics();
  for (let r = 0; r < Number(values.runs); r++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const n = await recomputePaths(store, env, nowS - 30 * DAY_S, nowS + DAY_S, () => nowMs);
    const used = process.cpuUsage(cpu);
    console.log(
      `recompute of ${n} Purchases: ${((performance.now() - started) / 1000).toFixed(2)} s, ` +
        `pixeltrail CPU ${((used.user + used.system) / 1e6).toFixed(2)} s`,
    );
  }
} finally {
  await close();
}
