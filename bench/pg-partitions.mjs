// One event per request on PostgreSQL once retention has filled the store (issue 22): touches
// are kept 90 days in day partitions, so a store in use has about 93 of them, a new one 4.
// pixeltrail on a new database against one given the past `--days` day partitions of touches
// (empty: what grows with them is what the planner and executor do per partition, not the
// rows read), each started fresh for its run, in rounds that alternate their order. wrk posts
// `POST /v1/events` with one Purchase per request (a fresh event id, 64 connections); CPU per
// request of pixeltrail (every thread) and of PostgreSQL (every process of the server, from
// /proc). Before a526eb0 the store of 90 days answered half the requests a second, at four
// times PostgreSQL's CPU an event: its touch read was planned anew for every batch and opened
// every partition.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/pg-partitions.mjs [--days 90] [--rounds 3] [--duration 5] [--pg URL]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createBenchDatabase } from './bench-database.mjs';
import { serveArgs, settledCount, WRITE_KEY, writeConfig } from './pixeltrail-server.mjs';
import { cpuSeconds, startServer, stopServer } from './servers.mjs';
import { EVENTS_BODY, mdTable } from './single-event.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

export const PARTITION_DAYS = 90;
const DAY_MS = 86_400_000;
const CLOCK_TICKS_PER_S = 100;
/** Tries of a past partition that lost a deadlock to the server's index build. */
const DEADLOCK_ATTEMPTS = 20;
/** The pause before a past partition is made again: the build's next partition takes longer. */
const DEADLOCK_RETRY_MS = 200;

/**
 * CPU seconds of the PostgreSQL server on this machine: its processes alive now, and those
 * that have ended (the postmaster's children's time, counted when it reaps them), so that a
 * process ending between two readings is counted for the time it ran between them.
 */
function postgresCpuSeconds() {
  let pids = [];
  try {
    pids = execFileSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return null;
  }
  let s = 0;
  let postmaster = null;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      // f[1] is the parent: the postmaster's is not a postgres process.
      if (!pids.includes(f[1])) postmaster = f;
      s += (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
    } catch {
      // Ended meanwhile: counted with the postmaster's children.
    }
  }
  if (postmaster) s += (Number(postmaster[13]) + Number(postmaster[14])) / CLOCK_TICKS_PER_S;
  return s;
}

/** The past `days` day partitions of touches, as `ensureDays` names and bounds them. */
async function addPastPartitions(url, days, nowMs) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
    for (let i = 1; i <= days; i++) {
      const day = today - i * DAY_MS;
      const ymd = new Date(day).toISOString().slice(0, 10).replaceAll('-', '');
      const ddl = `create table if not exists "touches_d${ymd}" partition of "touches"
         for values from (${day / 1000}) to (${(day + DAY_MS) / 1000})`;
      // The server, just started, indexes its first partitions concurrently (0042); a partition
      // made meanwhile may be chosen to end a deadlock with that build: made again after it.
      for (let attempt = 1; ; attempt++) {
        try {
          await c.query(ddl);
          break;
        } catch (e) {
          if (e.code !== '40P01' || attempt >= DEADLOCK_ATTEMPTS) throw e;
          await new Promise((r) => setTimeout(r, DEADLOCK_RETRY_MS));
        }
      }
    }
  } finally {
    await c.end();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function run(target, opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-pgparts-'));
  const db = await createBenchDatabase(opts.pgUrl, `pixeltrail_bench_parts_${process.pid}`);
  try {
    const env = {
      PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: '10ms' }),
      PIXELTRAIL_DATA: path.join(dir, 'data'),
      DATABASE_URL: db.url,
    };
    const server = await startServer('pixeltrail-pg', serveArgs(), env, dir);
    try {
      if (target.days > 0) await addPastPartitions(db.url, target.days, Date.now());
      const spec = {
        base: server.base,
        path: '/v1/events',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
        body: EVENTS_BODY,
        connections: opts.connections,
      };
      await wrkLoad(opts.wrk, { ...spec, durationS: opts.warmupS }, dir);
      const events = (s) => s.events + s.duplicates;
      const before = await settledCount(server.base, events);
      const cpu0 = cpuSeconds(server.child.pid);
      const pg0 = postgresCpuSeconds();
      const r = await wrkLoad(opts.wrk, { ...spec, durationS: opts.durationS }, dir);
      const cpu1 = cpuSeconds(server.child.pid);
      const pg1 = postgresCpuSeconds();
      const stored = (await settledCount(server.base, events)) - before;
      const per = (a, b) => (a === null || b === null ? null : ((b - a) * 1e6) / r.requests);
      return { ...r, ptUs: per(cpu0, cpu1), pgUs: per(pg0, pg1), stored };
    } finally {
      await stopServer(server);
    }
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function pgPartitions(opts) {
  const { log = () => {} } = opts;
  const targets = [
    { name: 'new store (4 day partitions)', days: 0 },
    { name: `${opts.days} more days of touch partitions`, days: opts.days },
  ];
  const runs = new Map(targets.map((t) => [t.name, []]));
  const ratios = [];
  for (let round = 0; round < opts.rounds; round++) {
    const order = round % 2 ? [...targets].reverse() : targets;
    const inRound = new Map();
    for (const t of order) {
      const r = await run(t, opts);
      runs.get(t.name).push(r);
      inRound.set(t.name, r);
      log(
        `  ${t.name} r${round}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, pixeltrail ${r.ptUs?.toFixed(1)} µs, PostgreSQL ${r.pgUs?.toFixed(1)} µs`,
      );
    }
    ratios.push(inRound.get(targets[1].name).rps / inRound.get(targets[0].name).rps);
  }
  const rows = targets.map((t) => {
    const rs = runs.get(t.name);
    const byRps = [...rs].sort((a, b) => a.rps - b.rps);
    const mid = byRps[(byRps.length - 1) >> 1];
    return {
      name: t.name,
      rps: median(rs.map((r) => r.rps)),
      slowest: byRps[0].rps,
      fastest: byRps.at(-1).rps,
      ptUs: median(rs.map((r) => r.ptUs ?? Number.NaN)),
      pgUs: median(rs.map((r) => r.pgUs ?? Number.NaN)),
      p50: mid.p50,
      p99: mid.p99,
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      held: rs.every((r) => r.ok <= r.stored && r.stored <= (r.sent ?? r.stored)),
    };
  });
  return { rows, ratio: median(ratios), opts };
}

export function pgPartitionsLines(result) {
  if (!result) return [];
  const { rows, ratio, opts } = result;
  const n = (x) => Math.round(x).toLocaleString('en-US');
  return [
    '',
    '## One event per request on a PostgreSQL store whose retention has filled',
    '',
    `Touches are kept 90 days in day partitions, so a PostgreSQL store in use has about 93 of them; a new one has 4. pixeltrail on a new database, and on one given the past ${opts.days} day partitions of touches (empty: what grows with their number is what the planner and executor do per partition), each started fresh for its run; wrk posts \`POST /v1/events\` with one Purchase a request (${opts.connections} connections, ${opts.rounds} round${opts.rounds === 1 ? '' : 's'} of ${opts.durationS} s after a warm-up, the order alternating) ([pg-partitions.mjs](pg-partitions.mjs)). CPU per request: pixeltrail's process, every thread; PostgreSQL's, every process of the server (those that ended during the run too, from the postmaster's children's time). A row is the median round (p50/p99 of the median run by req/s); "stored": every 2xx stored, nothing stored that was not sent.`,
    '',
    ...mdTable(
      [
        'store',
        'req/s',
        'slowest–fastest',
        'pixeltrail CPU µs/req',
        'PostgreSQL CPU µs/req',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'errors',
        'stored',
      ],
      [false, true, true, true, true, true, true, true, true, false],
      rows.map((r) => [
        r.name,
        n(r.rps),
        `${n(r.slowest)}–${n(r.fastest)}`,
        r.ptUs.toFixed(1),
        r.pgUs.toFixed(1),
        String(r.p50),
        String(r.p99),
        String(r.non2xx),
        String(r.errors),
        r.held ? 'HELD' : 'MISMATCH',
      ]),
    ),
    '',
    `With ${opts.days} days of partitions: **${ratio.toFixed(2)}×** the requests a second of a new store (median of the rounds' ratios).`,
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      days: { type: 'string', default: String(PARTITION_DAYS) },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const result = await pgPartitions({
    wrk: WRK,
    pgUrl: values.pg,
    days: Number(values.days),
    rounds: Number(values.rounds),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    connections: Number(values.connections),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${pgPartitionsLines(result).join('\n')}\n`);
  if (!result.rows.every((r) => r.held)) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
