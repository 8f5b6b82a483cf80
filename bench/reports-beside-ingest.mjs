// The pixel while someone reads the dashboard (SQLite): a store seeded with --conversions
// conversions over the last 30 days, pixeltrail serving `/i` under wrk, once alone and once
// while a client asks for the 30-day report by campaign (`GET /api/reports`) again as soon as
// each answer comes. Until the store read reports on a thread of its own
// (src/store/sqlite/read-thread.ts), each report held the event loop for its whole read and no
// hit was answered meanwhile. Both runs in every round, alternating which goes first; the
// server's CPU per hit from /proc, the reports answered and their median time.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/reports-beside-ingest.mjs [--conversions 300000] [--rounds 3] [--duration 5]
//                                        [--connections 64]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { migratedSqlite } from './bench-database.mjs';
import { median } from './busy-address.mjs';
import { debianBinary } from './debian-binary.mjs';
import {
  ADMIN_TOKEN,
  DEST_ID,
  ENV_ID,
  serveArgs,
  USER_AGENT,
  writeConfig,
} from './pixeltrail-server.mjs';
import { children, cpuSeconds, startServer, stopServer } from './servers.mjs';
import { mdTable } from './single-event.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

export const REPORT_CONVERSIONS = 300_000;
const DAY_S = 86_400;
const CAMPAIGNS = 50;
const PIXEL_PATH = `/i?env_id=${ENV_ID}&dest_id=${DEST_ID}&campaign_id=c1&imp_id=RPT-[<id>]`;
const REPORT_PATH = `/api/reports?env_id=${ENV_ID}&group_by=campaign`;
const QUIET_ROW = 'pixeltrail /i';
const REPORTED_ROW = 'pixeltrail /i, reports read back to back';

/**
 * `n` conversions over the last 30 days, two destinations' rows each (one the deduplicated
 * view counts), written straight into a migrated store: a month of a mid-sized shop.
 */
async function seedConversions(dataDir, n) {
  const db = await migratedSqlite(dataDir);
  const insert = db.prepare(
    `insert into conversions (conversion_id, dest_id, env_id, event_pk, event_name, event_id,
       event_time, value, currency, attributed, created_at_ms, attr_type, campaign_id,
       creative_id, match_type, is_test, dedup_row)
     values (?, ?, ?, ?, 'Purchase', ?, ?, 49.9, ?, ?, 0, ?, ?, ?, 'deterministic', 0, ?)`,
  );
  const now = Math.floor(Date.now() / 1000);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const t = now - 60 - ((i * 7919) % (30 * DAY_S));
      const campaign = `c${i % CAMPAIGNS}`;
      const attributed = i % 3 === 0 ? 0 : 1;
      for (const [dest, first] of [
        [DEST_ID, 1],
        ['meta', 0],
      ])
        insert.run(
          `rc${i}`,
          dest,
          ENV_ID,
          `rpk${i}`,
          `re${i}`,
          t,
          i % 4 === 0 ? 'USD' : 'EUR',
          attributed,
          i % 5 === 0 ? 'view' : 'click',
          attributed ? campaign : null,
          attributed ? `cr${i % 200}` : null,
          first,
        );
    }
  })();
  db.close();
}

/** Asks for the report until `stop()` is true; the time of each answer, ms. */
async function readReports(base, stopped) {
  const times = [];
  while (!stopped()) {
    const t = performance.now();
    const res = await fetch(`${base}${REPORT_PATH}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (!res.ok) throw new Error(`GET /api/reports answered ${res.status}`);
    await res.arrayBuffer();
    times.push(performance.now() - t);
  }
  return times;
}

/** One wrk run of the pixel, with reports read beside it or not. */
async function pixelRun(server, withReports, opts) {
  const spec = {
    base: server.base,
    path: PIXEL_PATH,
    headers: { 'user-agent': USER_AGENT },
    connections: opts.connections,
  };
  await wrkLoad(opts.wrk, { ...spec, durationS: opts.warmupS }, opts.dir);
  let stop = false;
  const cpuBefore = cpuSeconds(server.child.pid);
  const reports = withReports ? readReports(server.base, () => stop) : Promise.resolve([]);
  const run = await wrkLoad(opts.wrk, { ...spec, durationS: opts.durationS }, opts.dir);
  stop = true;
  const cpu = cpuSeconds(server.child.pid) - cpuBefore;
  const times = await reports;
  return { ...run, cpuUsPerHit: (cpu / run.requests) * 1e6, reports: times };
}

/**
 * Both runs in every round; resolves with one row each: the median run by hits a second,
 * with the reports answered in all rounds and their median time.
 */
export async function reportsBesideIngest({
  wrk,
  conversions,
  rounds,
  durationS,
  warmupS,
  connections,
  log,
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-reports-'));
  const env = {
    PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: '10ms' }),
    PIXELTRAIL_DATA: path.join(dir, 'data'),
    DATABASE_URL: undefined,
  };
  log(`  seeding ${conversions.toLocaleString('en-US')} conversions ...`);
  await seedConversions(env.PIXELTRAIL_DATA, conversions);
  const server = await startServer('pixeltrail-reports', serveArgs(), env, dir);
  const runs = { [QUIET_ROW]: [], [REPORTED_ROW]: [] };
  try {
    const opts = { wrk, dir, durationS, warmupS, connections };
    for (let round = 1; round <= rounds; round++) {
      log(`reports beside the pixel, round ${round} of ${rounds}:`);
      for (const name of round % 2 ? [QUIET_ROW, REPORTED_ROW] : [REPORTED_ROW, QUIET_ROW]) {
        log(`  ${name}: ${durationS} s, ${connections} connections ...`);
        runs[name].push(await pixelRun(server, name === REPORTED_ROW, opts));
      }
    }
  } finally {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return Object.entries(runs).map(([name, list]) => {
    const byRate = [...list].sort((a, b) => a.rps - b.rps);
    const mid = byRate[(byRate.length - 1) >> 1];
    const times = list.flatMap((r) => r.reports);
    return {
      name,
      rps: mid.rps,
      p50: mid.p50,
      p99: mid.p99,
      max: mid.max,
      cpuUsPerHit: median(list.map((r) => r.cpuUsPerHit)),
      reports: times.length,
      reportMs: times.length > 0 ? median(times) : null,
    };
  });
}

/** The RESULTS.md section. */
export function reportsLines(rows, { conversions, rounds, durationS, connections }) {
  if (!rows) return [];
  const quiet = rows.find((r) => r.name === QUIET_ROW);
  const reported = rows.find((r) => r.name === REPORTED_ROW);
  return [
    '',
    '## The pixel while the dashboard is read (SQLite)',
    '',
    `A store with ${conversions.toLocaleString('en-US')} conversions over the last 30 days (two destinations' rows each); \`GET /i\` under wrk (${connections} connections, ${durationS} s after a warm-up, ${rounds} rounds), alone and while a client asks for the 30-day report by campaign (\`GET /api/reports\`) again as soon as each answer comes ([reports-beside-ingest.mjs](reports-beside-ingest.mjs)). A row is the median run by hits a second; "reports" is how many were answered in all its rounds, with their median time; "server CPU µs/hit" is the whole process's CPU over the hits, so with reports it includes the read thread's. The store reads reports on a thread of its own: the pixel is answered while they are read, and the two share the box's two cores with wrk.`,
    '',
    ...mdTable(
      [
        'target',
        'hits/s',
        'server CPU µs/hit',
        'p50 ms',
        'p99 ms',
        'max ms',
        'reports',
        'report ms (median)',
      ],
      [false, true, true, true, true, true, true, true],
      rows.map((r) => [
        r.name,
        Math.round(r.rps).toLocaleString('en-US'),
        r.cpuUsPerHit.toFixed(1),
        String(r.p50),
        String(r.p99),
        String(r.max),
        String(r.reports),
        r.reportMs === null ? '–' : r.reportMs.toFixed(0),
      ]),
    ),
    '',
    `With reports: ${(reported.rps / quiet.rps).toFixed(2)}× the hits a second, p99 ${reported.p99} ms against ${quiet.p99} ms.`,
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      conversions: { type: 'string', default: String(REPORT_CONVERSIONS) },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
    },
  });
  const log = (m) => process.stderr.write(`${m}\n`);
  const wrk = debianBinary(WRK, 'wrk', log);
  if (!wrk) throw new Error('wrk is needed (apt-get install wrk)');
  const opts = {
    conversions: Number(values.conversions),
    rounds: Number(values.rounds),
    durationS: Number(values.duration),
    connections: Number(values.connections),
  };
  const rows = await reportsBesideIngest({ ...opts, warmupS: Number(values.warmup), wrk, log });
  process.stdout.write(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}\n`,
  );
  process.stdout.write(`${reportsLines(rows, opts).join('\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    for (const c of children) c.kill('SIGKILL');
    console.error(e);
    process.exit(1);
  });
}
