// The delivery claim beside a backlog (issue 22, tenth round). A destination whose token
// expired is paused and keeps its rows pending; a platform outage leaves rows backing off.
// Either is a backlog no claim round may read: every round runs on the event loop that
// answers ingest, and the worker runs one every few milliseconds while conversions arrive.
//
// Two measures, after `npm run build`:
//   node bench/delivery-backlog.mjs [--backlogs 0,10000,100000] [--rounds 300]    in process
//   node bench/delivery-backlog.mjs --server [--backlog 100000] [--rounds 3] [--duration 5]
// The in-process measure also takes --store postgres [--pg URL]; the servers run on SQLite.
//
// In process: a store with one healthy lane of LANE_DUE due rows and, beside it, a paused
// destination holding --backlogs pending rows and a destination backing off holding as
// many, and the history of finished rows; the CPU time of one `claimDeliveries` round as the
// worker calls it (500 rows at most), median of --rounds rounds. Each round's leases have run
// out by the next (its clock moves on by a lease), so every round claims the same LANE_DUE
// rows. The ratio is against the round with no backlog, in the same run.
// Server: two pixeltrail servers started on a store each, one with a paused destination's
// --backlog pending rows; wrk posting single-event Purchases (credited to the webhook,
// delivered to a receiver in this process that answers 200) to each in turn, once per round;
// the server's CPU time per request from /proc.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchDatabase } from './bench-database.mjs';
import { median } from './busy-address.mjs';
import { debianBinary } from './debian-binary.mjs';
import { ENV_ID, serveArgs, WRITE_KEY, writeConfig } from './pixeltrail-server.mjs';
import { children, cpuSeconds, startServer, stopServer, threadCpuSeconds } from './servers.mjs';
import { mdTable } from './single-event.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST = path.join(ROOT, 'dist');
const dist = (p) => import(pathToFileURL(path.join(DIST, p)).href);
const { sql } = await import(
  pathToFileURL(path.join(ROOT, 'node_modules/kysely/dist/esm/index.js')).href
);
const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The worker's claim: at most this many rows a round (CLAIM_BATCH_ROWS, delivery/worker.ts). */
const CLAIM_ROWS = 500;
const LEASE_MS = 60_000;
/** Due rows of the healthy lane, claimed again every round. */
const LANE_DUE = 50;
/** The paused destination: its token expired, so its rows stay pending until it is resumed. */
export const PAUSED_DEST = 'dsp-paused';
/** How long the backing-off destination's rows wait: longer than any run's rounds. */
const DOWN_FOR_MS = 30 * 86_400_000;
/** Finished rows (delivered) beside the backlog: a queue's history is most of its table. */
const HISTORY = 20_000;

/**
 * Writes `n` outbox rows of `dest` in `status`, due at `due_ms`, straight into the store, in
 * one statement that makes them in the database: seeding makes no JavaScript garbage that the
 * rounds measured after it would pay for. `env` is the rows' environment, an SQL expression
 * of the row's number `i`.
 */
async function putRows(db, n, dest, status, due_ms, now_ms, tag, env = sql`${ENV_ID}`) {
  if (n === 0) return;
  const delivered = status === 'delivered' ? now_ms : null;
  await sql`with recursive n(i) as (select 0 union all select i + 1 from n where i < ${n - 1})
    insert into outbox (env_id, conversion_id, dest_id, status, attempts, next_attempt_at_ms,
      created_at_ms, updated_at_ms, delivered_at_ms)
    select ${env}, ${`${tag}-`} || i, ${dest}, ${status}, ${status === 'pending' ? 0 : 1},
      ${due_ms}, ${now_ms}, ${now_ms}, ${delivered} from n`.execute(db);
}

/** A paused destination's and a backing-off destination's `backlog` rows each, and history. */
export async function seedBacklog(store, backlog, now_ms) {
  await putRows(store.db, HISTORY, 'dsp1', 'delivered', now_ms - 1000, now_ms, 'done');
  await putRows(store.db, backlog, PAUSED_DEST, 'pending', now_ms - 1000, now_ms, 'paused');
  // Backing off past every round: the rounds' clock moves a lease a round (see claimRounds).
  await putRows(store.db, backlog, 'dsp-down', 'pending', now_ms + DOWN_FOR_MS, now_ms, 'down');
  await store.setDestinationPaused(ENV_ID, PAUSED_DEST, true, 'HTTP 401 (bench)', now_ms);
}

/**
 * `lanes` other environments' destinations, each holding two conversions in its merge window
 * (not due before the rounds end): lanes the claim must find and pass over every round.
 */
function putHeldLanes(db, lanes, now_ms) {
  const env = sql`'env-held-' || (i / 2)`;
  return putRows(db, 2 * lanes, 'dsp1', 'pending', now_ms + DOWN_FOR_MS, now_ms, 'held', env);
}

/** CPU time of this process's main thread so far, µs (/proc: clock ticks of 10 ms). */
const mainThreadUs = () => threadCpuSeconds(process.pid, process.pid) * 1e6;

/** In process: median CPU µs of one claim round at each backlog. */
export async function claimRounds({ cases, rounds, log, store: kind = 'sqlite', pgUrl }) {
  const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
  const { openPostgresStore } = await dist('store/postgres/open-postgres.js');
  const out = [];
  for (const { backlog, lanes = 0 } of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-backlog-'));
    const db =
      kind === 'postgres'
        ? await createBenchDatabase(pgUrl ?? PG_ADMIN_URL, `pixeltrail_backlog_${process.pid}`)
        : null;
    try {
      const store = db ? openPostgresStore(db.url) : openSqliteStore(dir);
      await store.migrate();
      const t0 = Date.now();
      await seedBacklog(store, backlog, t0);
      await putHeldLanes(store.db, lanes, t0);
      await putRows(store.db, LANE_DUE, 'dsp1', 'pending', t0 - 1000, t0, 'due');
      const paused = new Set(
        (await store.pausedDestinations()).map((p) => `${p.env_id}/${p.dest_id}`),
      );
      // The seeding's WAL and garbage are cleared before the rounds, not charged to them.
      if (!db) await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db);
      globalThis.gc?.();
      const cpu = [];
      const wall = [];
      const warmup = Math.min(20, rounds);
      let main0 = 0;
      for (let r = -warmup; r < rounds; r++) {
        // Each round after the last one's leases ran out: the same due rows again.
        const now = t0 + (r + warmup) * (LEASE_MS + 1);
        const w0 = performance.now();
        const c0 = process.cpuUsage();
        if (r === 0) main0 = mainThreadUs();
        await store.claimDeliveries(now, CLAIM_ROWS, LEASE_MS, 'bench', paused);
        const c = process.cpuUsage(c0);
        if (r >= 0) {
          cpu.push(c.user + c.system);
          wall.push((performance.now() - w0) * 1000);
        }
      }
      const mainUs = (mainThreadUs() - main0) / rounds;
      // What the rounds leased: the healthy lane's rows, none of the backlog's.
      const held = await store.db
        .selectFrom('outbox')
        .select(['dest_id', (eb) => eb.fn.countAll().as('n')])
        .where('lease_owner', '=', 'bench')
        .groupBy('dest_id')
        .execute();
      const leased = Object.fromEntries(held.map((h) => [h.dest_id, Number(h.n)]));
      if (leased.dsp1 !== LANE_DUE || Object.keys(leased).length !== 1)
        throw new Error(`the rounds leased ${JSON.stringify(leased)}, not ${LANE_DUE} of dsp1`);
      await store.close();
      out.push({ backlog, lanes, cpuUs: median(cpu), wallUs: median(wall), mainUs });
      log(
        `  backlog ${backlog}, ${lanes} held lanes: ${median(cpu).toFixed(0)} µs CPU (main thread ${mainUs.toFixed(0)}), ${median(wall).toFixed(0)} µs a round`,
      );
    } finally {
      await db?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

const BUYER = 'buyer';
const BUYER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36';

/** The buyer's click on the webhook destination's ad an hour ago: every Purchase is credited. */
function buyerClick(nowS) {
  return {
    env_id: ENV_ID,
    kind: 'click',
    touch_id: 'CLK-BUYER',
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: 'cr1',
    placement_id: null,
    time: nowS - 3600,
    anonymous_id: BUYER,
    user_id: null,
    ip: null,
    user_agent: BUYER_AGENT,
  };
}

const EVENT_BODY = JSON.stringify({
  events: [
    {
      event_name: 'Purchase',
      event_id: 'backlog-[<id>]',
      user: { anonymous_id: BUYER, ip: '192.0.2.77', user_agent: BUYER_AGENT },
      properties: { value: 1, currency: 'EUR' },
    },
  ],
});

export const NO_BACKLOG_ROW = 'no backlog';
export const BACKLOG_ROW = 'paused and backing-off backlogs';

/**
 * Server CPU per request: two pixeltrail servers, one on an empty store and one beside a
 * paused destination's and a backing-off destination's `backlog` rows each (seedBacklog),
 * wrk posting single-event Purchases to each in turn, once per round. Both deliver to a
 * receiver in this process that answers 200. Resolves with one row per server: medians over
 * the rounds (req/s, server CPU µs a request, p50/p99) and the receiver's count.
 */
export async function backlogServer({
  wrk,
  backlog,
  rounds,
  durationS,
  warmupS,
  connections,
  log,
}) {
  const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-backlog-server-'));
  const attempts = new Map();
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      attempts.set(req.url, (attempts.get(req.url) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiver.unref();
  const servers = [];
  try {
    for (const [name, rows] of [
      [NO_BACKLOG_ROW, 0],
      [BACKLOG_ROW, backlog],
    ]) {
      const home = path.join(dir, String(servers.length));
      fs.mkdirSync(home);
      const hook = `http://127.0.0.1:${receiver.address().port}/${servers.length}`;
      const env = {
        PIXELTRAIL_CONFIG: writeConfig(home, { flushInterval: '10ms', webhookUrl: hook }),
        PIXELTRAIL_DATA: path.join(home, 'data'),
        DATABASE_URL: undefined,
      };
      const store = openSqliteStore(env.PIXELTRAIL_DATA);
      await store.migrate();
      await seedBacklog(store, rows, Date.now());
      await store.ingest((tx) => tx.insertTouches([buyerClick(Math.floor(Date.now() / 1000))]));
      await store.close();
      const server = await startServer(`pixeltrail-${servers.length}`, serveArgs(), env, home);
      servers.push({ name, rows, server, hook: `/${servers.length}`, runs: [] });
    }
    for (let round = 1; round <= rounds; round++) {
      log(`delivery backlog, round ${round} of ${rounds}:`);
      // Each server first in every other round: the one loaded second would otherwise find
      // the box warmer.
      for (const s of round % 2 ? servers : [...servers].reverse()) {
        // The other server is stopped (SIGSTOP) while this one runs: it would otherwise spend
        // the box's CPU catching up on its own deliveries.
        const others = servers.filter((o) => o !== s);
        for (const o of others) o.server.child.kill('SIGSTOP');
        const spec = {
          base: s.server.base,
          path: '/v1/events',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
          body: EVENT_BODY,
          connections,
        };
        log(`  ${s.name}: ${durationS} s, ${connections} connections ...`);
        await wrkLoad(wrk, { ...spec, durationS: warmupS }, dir);
        const before = cpuSeconds(s.server.child.pid);
        const sent = attempts.get(s.hook) ?? 0;
        const run = await wrkLoad(wrk, { ...spec, durationS }, dir);
        const after = cpuSeconds(s.server.child.pid);
        s.runs.push({
          ...run,
          cpuUsPerReq: ((after - before) * 1e6) / run.requests,
          // Delivered while this run's Purchases arrived, per second.
          deliveredPerS: ((attempts.get(s.hook) ?? 0) - sent) / durationS,
        });
        for (const o of others) o.server.child.kill('SIGCONT');
      }
    }
  } finally {
    for (const s of servers) {
      s.server.child.kill('SIGCONT');
      await stopServer(s.server);
    }
    receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return servers.map((s) => {
    const byRps = [...s.runs].sort((a, b) => a.rps - b.rps);
    const mid = byRps[(byRps.length - 1) >> 1];
    return {
      name: s.name,
      backlog: s.rows,
      rps: median(s.runs.map((r) => r.rps)),
      minRps: byRps[0].rps,
      maxRps: byRps.at(-1).rps,
      cpuUsPerReq: median(s.runs.map((r) => r.cpuUsPerReq)),
      p50: mid.p50,
      p99: mid.p99,
      non2xx: s.runs.reduce((n, r) => n + r.non2xx, 0),
      deliveredPerS: median(s.runs.map((r) => r.deliveredPerS)),
    };
  });
}

/** The section of RESULTS.md for `rows` (backlogServer) and `rounds` (claimRounds). */
export function backlogLines(rows, rounds, opts) {
  if (!rows && !rounds) return [];
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const out = ['', '## Delivery beside a backlog: a paused destination, one backing off', ''];
  if (rounds) {
    const base = rounds.find((r) => r.backlog === 0 && r.lanes === 0) ?? rounds[0];
    out.push(
      `One delivery claim round as the worker runs it (up to ${CLAIM_ROWS} rows; ${LANE_DUE} due ` +
        'rows of a healthy destination), in process on SQLite, beside a paused destination ' +
        "(its token expired: its rows stay pending) and one backing off, each holding the row's " +
        `backlog, and ${fmt(HISTORY)} delivered rows; median CPU of ${opts.claimRounds} rounds ` +
        '([delivery-backlog.mjs](delivery-backlog.mjs)). The round must not read the backlog: it ' +
        'runs on the event loop that answers ingest, every few milliseconds while conversions ' +
        'arrive. "Other lanes held": as many other environments, each with a destination holding ' +
        'two conversions in its merge window, which the round finds and passes over.',
      '',
      ...mdTable(
        ['backlog, rows each', 'other lanes held', 'CPU µs a round', 'main thread µs', '÷ none'],
        [true, true, true, true, true],
        rounds.map((r) => [
          fmt(r.backlog),
          fmt(r.lanes),
          fmt(r.cpuUs),
          fmt(r.mainUs),
          (r.cpuUs / base.cpuUs).toFixed(2),
        ]),
      ),
      '',
    );
  }
  if (rows) {
    const none = rows.find((r) => r.name === NO_BACKLOG_ROW);
    const busy = rows.find((r) => r.name === BACKLOG_ROW);
    out.push(
      `Two pixeltrail servers, one beside ${fmt(busy.backlog)} rows of a paused destination and ` +
        `${fmt(busy.backlog)} of one backing off; wrk posts single-event Purchases to each in ` +
        `turn (${opts.rounds} rounds of ${opts.durationS} s, ${opts.connections} connections), ` +
        "each credited to the webhook, whose receiver in the bench's process answers 200 " +
        '("delivered/s": its requests during the run; each server goes first in every other round). ' +
        '"server CPU µs/req": the server process, every thread.',
      '',
      ...mdTable(
        [
          'server',
          'req/s',
          'slowest–fastest',
          'server CPU µs/req',
          'p50 ms',
          'p99 ms',
          'delivered',
        ],
        [false, true, true, true, true, true, true],
        rows.map((r) => [
          r.name,
          fmt(r.rps),
          `${fmt(r.minRps)}–${fmt(r.maxRps)}`,
          r.cpuUsPerReq.toFixed(1),
          String(r.p50),
          String(r.p99),
          fmt(r.deliveredPerS),
        ]),
      ),
      '',
      `Beside the backlogs: ${(busy.rps / none.rps).toFixed(2)} of the requests a second, ` +
        `${(busy.cpuUsPerReq / none.cpuUsPerReq).toFixed(2)}× the CPU a request.`,
    );
  }
  return out;
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: 'boolean', default: false },
      backlogs: { type: 'string', default: '0,10000,100000' },
      lanes: { type: 'string', default: '1000' },
      backlog: { type: 'string', default: '100000' },
      rounds: { type: 'string' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '64' },
      store: { type: 'string', default: 'sqlite' },
      pg: { type: 'string', default: PG_ADMIN_URL },
    },
  });
  const log = (s) => console.log(s);
  if (!values.server) {
    const rows = await claimRounds({
      cases: [
        ...values.backlogs.split(',').map((b) => ({ backlog: Number(b) })),
        ...(Number(values.lanes) > 0 ? [{ backlog: 0, lanes: Number(values.lanes) }] : []),
      ],
      rounds: Number(values.rounds ?? 300),
      log,
      store: values.store,
      pgUrl: values.pg,
    });
    const base = rows.find((r) => r.backlog === 0 && r.lanes === 0) ?? rows[0];
    for (const r of rows)
      log(
        `backlog ${r.backlog}, ${r.lanes} held lanes: ${(r.cpuUs / base.cpuUs).toFixed(2)}x the round without`,
      );
    return;
  }
  const wrk = debianBinary(WRK, 'wrk', log);
  if (!wrk) throw new Error('wrk is needed (apt-get install wrk)');
  try {
    const rows = await backlogServer({
      wrk,
      backlog: Number(values.backlog),
      rounds: Number(values.rounds ?? 3),
      durationS: Number(values.duration),
      warmupS: 1,
      connections: Number(values.connections),
      log,
    });
    for (const r of rows)
      log(
        `${r.name.padEnd(32)} ${Math.round(r.rps).toString().padStart(6)} req/s ` +
          `${r.cpuUsPerReq.toFixed(1).padStart(7)} µs/req p50 ${r.p50} ms p99 ${r.p99} ms ` +
          `non-2xx ${r.non2xx}, ${Math.round(r.deliveredPerS)} delivered/s`,
      );
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
