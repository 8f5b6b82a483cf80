// pixeltrail load bench (`npm run bench`; flags: see USAGE or bench/README.md).
//
// Three kinds of process, so none steals the others' event loop: pixeltrail (`dist/cli.js
// serve`), a bare node:http GIF server as the baseline (bare-gif-server.mjs), and the load
// generator: wrk pinned to the last core for the pixel runs (wrk-load.mjs), autocannon for
// /v1/events and the soak (load.mjs). Everything talks to 127.0.0.1 only. Results go to
// stdout and bench/RESULTS.md.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { ADMIN_TOUCHES, adminHolds, adminHoldsLines } from './admin-holds.mjs';
import { attributionBench } from './attribution-lookup.mjs';
import { createBenchDatabase } from './bench-database.mjs';
import { BUSY_TOUCHES, busyAddressLines, busyAddressServer } from './busy-address.mjs';
import { childOutput } from './child-output.mjs';
import { summarizeProfile } from './cpu-profile-summary.mjs';
import { debianBinary } from './debian-binary.mjs';
import { backlogLines, backlogServer, claimRounds } from './delivery-backlog.mjs';
import { MARKOV_JOURNEYS, markovLines, markovRemoval } from './markov-removal.mjs';
import { PARTITION_DAYS, pgPartitions, pgPartitionsLines } from './pg-partitions.mjs';
import {
  DEST_ID,
  ENV_ID,
  serveArgs,
  settledCount,
  stats,
  USER_AGENT,
  WRITE_KEY,
  writeConfig,
} from './pixeltrail-server.mjs';
import { LIFE_PURCHASES, purchaseLife, purchaseLifeLines } from './purchase-life.mjs';
import { PURGE_EVENTS, purgeLines, purgeStall } from './purge-stall.mjs';
import { REPORT_CONVERSIONS, reportsBesideIngest, reportsLines } from './reports-beside-ingest.mjs';
import {
  children,
  cpuSeconds,
  exited,
  freePort,
  pinned,
  pinServers,
  rssMiB,
  sleep,
  startServer,
  stopServer,
} from './servers.mjs';
import { singleEventBench, singleEventLines } from './single-event.mjs';
import { renderSoakChart } from './soak-chart.mjs';
import { CHROMIUM_PATH, tagMainThreadBench } from './tag-main-thread.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

/**
 * The warm-up of the one-event and busy-address wrk runs: `--warmup`, at most 2 s, and at
 * least 1, since wrk takes -d0s for a run of its own rather than for none.
 */
const wrkWarmupS = (s) => Math.max(1, Math.min(s, 2));

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const RESULTS_PATH = path.join(BENCH_DIR, 'RESULTS.md');
const RESULTS_PG_PATH = path.join(BENCH_DIR, 'RESULTS-postgres.md');
const SOAK_PATH = path.join(BENCH_DIR, 'SOAK.md');
const SOAK_PNG = path.join(BENCH_DIR, 'soak.png');
const SOAK_EVENT_BATCH = 100;
const SOAK_EVENT_CONNECTIONS = 4;

const PIXEL_QUERY = `env_id=${ENV_ID}&dest_id=${DEST_ID}&campaign_id=c1`;
// pixeltrail gets a fresh 33-character imp_id per request (autocannon replaces `[<id>]`), as
// real ads do: random index keys cost SQLite more than repeated ones. The bare server ignores
// the query, so it gets a fixed one: rebuilding each request costs the generator ~40% of its
// rate, and against the bare server the generator is the bottleneck.
const PIXELTRAIL_PIXEL_PATH = `/i?${PIXEL_QUERY}&imp_id=IMP-[<id>]`;
const BARE_PIXEL_PATH = `/i?${PIXEL_QUERY}&imp_id=IMP-1`;
const EVENT_BATCH_SIZES = [1, 100, 1000];
// Fewer connections for big batches, so a request waits for about one full transaction
// (pixeltrail's MAX_BATCH_ITEMS) rather than for a queue of them.
const EVENTS_IN_FLIGHT = 2000;
const EVENTS_TIMEOUT_S = 30;

const MIN_PIXEL_REQUESTS = 20_000;
const EVENTS_WARMUP_S = 1;
// A generator using this share of a core or more was the limit, not the server.
const GENERATOR_SATURATED_SHARE = 0.9;
const STARTUP_TIMEOUT_MS = 60_000;
/** Delivery claim rounds timed at each backlog (delivery-backlog.mjs). */
const BACKLOG_CLAIM_ROUNDS = 300;
/** Other destinations' lanes, each held by its merge window, in the claim round's last case. */
const BACKLOG_HELD_LANES = 1000;
const POLL_MS = 100;

const USAGE = `usage: npm run bench -- [flags]   (or: node bench/run.mjs [flags] after npm run build)
  --duration S          seconds per pixel target and round; the request count is sized from the warm-up
                        rate so each run lasts about S (at least ${MIN_PIXEL_REQUESTS} requests) [8]
  --amount N            exact requests per pixel target instead of --duration (autocannon only)
  --generator G         pixel load generator: wrk (Debian's, installed if missing; one thread
                        pinned to the last core) or autocannon [wrk]
  --connections N       keep-alive connections for the pixel runs [64]
  --warmup S            warm-up seconds per pixel target and round [3]
  --pin-servers         run every server on the cores the pixel generator does not use
  --rounds N            rounds over every pixel target; each row is the median round and
                        each ratio the median of the ratios within a round [3]
  --events-duration S   seconds per /v1/events batch size (0 skips the events bench); long
                        enough to take in several WAL checkpoints [15]
  --single-rounds N     rounds of the one-event-per-request runs (bare node:http POST, its
                        floor with SQLite, /v1/events, Segment /v1/track, Snowplow tp2, and
                        on SQLite a Purchase from a busy address against a quiet one);
                        0 skips them [3]
  --single-duration S   seconds per one-event target and round [5]
  --event-connections N connections for /v1/events with 1 event per request; bigger batches
                        use fewer: ${EVENTS_IN_FLIGHT} events in flight at most, 2 connections at least [32]
  --flush-interval D    pixeltrail's group-commit interval [10ms]
  --store KIND          sqlite, or postgres: a fresh database on --pg (dropped after);
                        results go to RESULTS-postgres.md [sqlite]
  --pg URL              PostgreSQL server for --store postgres
                        [postgres://postgres@127.0.0.1:5432/postgres]
  --profile             run pixeltrail under --cpu-prof for the pixel runs and print where its
                        CPU time went; skips the events bench and leaves RESULTS.md alone
  --workers N           also run \`serve --workers N\` on a fresh PostgreSQL database on --pg;
                        1 skips it [2]
  --soak                instead of the bench: mixed load (pixel + /v1/events batches of
                        ${SOAK_EVENT_BATCH}) for --soak-minutes [10], measured in slices of
                        --soak-slice seconds [10]; writes bench/SOAK.md and bench/soak.png
  --attribution-touches N  touches seeded for the attribution lookup bench (SQLite; kept in
                        the OS temp folder and reused); 0 skips it [10000000]
  --attribution-lookups N  conversions timed there [20000]
  --backlog N           rows each of a paused and a backing-off destination beside which the
                        delivery claim round is timed (in process, at 0, 10,000 and N, and
                        beside 1,000 other destinations in their merge window) and two
                        servers take single-event Purchases (with the one-event runs; SQLite);
                        0 skips it [100000]
  --report-conversions N  conversions seeded for the pixel beside back-to-back dashboard
                        reports (SQLite, with the one-event runs); 0 skips it [${REPORT_CONVERSIONS}]
  --pg-partition-days N one event per request on a PostgreSQL store with N past day
                        partitions of touches, against a new store (with the one-event
                        runs, on --pg); 0 skips it [${PARTITION_DAYS}]
  --purge-events N      events in the store the hourly purge is timed on (SQLite, in child
                        processes; twice as many dedup keys, 0.4 as many touches, a tenth of
                        each expired); 0 skips it [${PURGE_EVENTS}]
  --admin-touches N     touches seeded (and a tenth as many conversions) for the admin calls
                        timed beside a SQLite server; 0 skips it [${ADMIN_TOUCHES}]
  --life-purchases N    Purchases recorded, merged with a second copy and delivered to a
                        webhook receiver, against a bare node:http client (SQLite);
                        0 skips it [${LIFE_PURCHASES}]
  --markov-journeys N   journeys the data-driven model's removal effects are timed on, at
                        50 to 3,000 channels, against one solve per channel (in process);
                        0 skips it [${MARKOV_JOURNEYS}]
  --tag-loads N         page loads per variant for the tag's main-thread time in Chromium;
                        0 skips it [15]
  --keep                keep the temporary data folder and logs
  -h, --help`;

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '8' },
      amount: { type: 'string' },
      generator: { type: 'string', default: 'wrk' },
      connections: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      'pin-servers': { type: 'boolean', default: false },
      // 5 s moved batches of 100 by half, by whether a WAL checkpoint (up to 200 MB, on its
      // thread) fell in the window: 15,087-24,784 events/s on one server (bench/RESULTS.md).
      'events-duration': { type: 'string', default: '15' },
      'single-rounds': { type: 'string', default: '3' },
      'single-duration': { type: 'string', default: '5' },
      'event-connections': { type: 'string', default: '32' },
      'flush-interval': { type: 'string', default: '10ms' },
      store: { type: 'string', default: 'sqlite' },
      pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      workers: { type: 'string', default: '2' },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string', default: '10' },
      'soak-slice': { type: 'string', default: '10' },
      'attribution-touches': { type: 'string', default: '10000000' },
      'attribution-lookups': { type: 'string', default: '20000' },
      'tag-loads': { type: 'string', default: '15' },
      backlog: { type: 'string', default: '100000' },
      'report-conversions': { type: 'string', default: String(REPORT_CONVERSIONS) },
      'pg-partition-days': { type: 'string', default: String(PARTITION_DAYS) },
      'purge-events': { type: 'string', default: String(PURGE_EVENTS) },
      'admin-touches': { type: 'string', default: String(ADMIN_TOUCHES) },
      'life-purchases': { type: 'string', default: String(LIFE_PURCHASES) },
      'markov-journeys': { type: 'string', default: String(MARKOV_JOURNEYS) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const num = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
    return n;
  };
  return {
    help: values.help,
    durationS: num('duration', 1),
    amount: values.amount === undefined ? null : num('amount', 1),
    generator: ['wrk', 'autocannon'].includes(values.generator)
      ? values.generator
      : (() => {
          throw new Error('--generator must be wrk or autocannon');
        })(),
    connections: num('connections', 1),
    warmupS: num('warmup', 1),
    rounds: values.profile ? 1 : num('rounds', 1),
    pinServers: values['pin-servers'],
    eventsDurationS: values.profile ? 0 : num('events-duration', 0),
    singleRounds: values.profile ? 0 : num('single-rounds', 0),
    singleDurationS: num('single-duration', 1),
    eventConnections: num('event-connections', 1),
    flushInterval: values['flush-interval'],
    store: ['sqlite', 'postgres'].includes(values.store)
      ? values.store
      : (() => {
          throw new Error('--store must be sqlite or postgres');
        })(),
    pgUrl: values.pg,
    profile: values.profile,
    keep: values.keep,
    workers: num('workers', 1),
    soak: values.soak,
    soakMinutes: num('soak-minutes', 0.1),
    soakSliceS: num('soak-slice', 1),
    attributionTouches: values.profile ? 0 : num('attribution-touches', 0),
    attributionLookups: num('attribution-lookups', 1),
    tagLoads: values.profile ? 0 : num('tag-loads', 0),
    backlog: values.profile ? 0 : num('backlog', 0),
    reportConversions: values.profile ? 0 : num('report-conversions', 0),
    purgeEvents: values.profile ? 0 : num('purge-events', 0),
    pgPartitionDays: values.profile ? 0 : num('pg-partition-days', 0),
    adminTouches: values.profile ? 0 : num('admin-touches', 0),
    lifePurchases: values.profile ? 0 : num('life-purchases', 0),
    markovJourneys: values.profile ? 0 : num('markov-journeys', 0),
  };
}

// ---------------------------------------------------------------- child processes

const NGINX = '/usr/sbin/nginx';

/** nginx serving `empty_gif` on /i (the physical limit of this box) with `workers` workers. */
async function startNginx(bin, workers, dir) {
  const port = await freePort();
  const root = path.join(dir, `nginx-${workers}`);
  fs.mkdirSync(root, { recursive: true });
  const conf = path.join(root, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes ${workers};
pid ${root}/nginx.pid;
error_log ${root}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${root}/tmp;
  proxy_temp_path ${root}/tmp;
  fastcgi_temp_path ${root}/tmp;
  uwsgi_temp_path ${root}/tmp;
  scgi_temp_path ${root}/tmp;
  server {
    listen 127.0.0.1:${port};
    location /i { empty_gif; add_header Cache-Control no-store; }
    location /healthz { return 200 'ok'; }
  }
}
`,
  );
  const child = spawn(...pinned(bin, ['-c', conf, '-g', 'daemon off;']), { stdio: 'ignore' });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && !exited(child)) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { name: `nginx-${workers}`, child, base };
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_MS);
  }
  throw new Error(`nginx did not start (${root}/error.log)`);
}

/** Bytes of the built tag, raw and gzipped as served. */
function tagBytes() {
  const file = path.join(ROOT, 'dist', 'public', 't.js');
  if (!fs.existsSync(file)) return null;
  const js = fs.readFileSync(file);
  return { raw: js.length, gzip: zlib.gzipSync(js, { level: 9 }).length };
}

/** One autocannon run in its own process (load.mjs); see there for `spec`. */
async function load(spec) {
  const child = spawn(process.execPath, [path.join(BENCH_DIR, 'load.mjs'), JSON.stringify(spec)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const { code, out, err } = await childOutput(child);
  children.delete(child);
  const json = out.trim().split('\n').at(-1);
  if (code !== 0 || !json?.startsWith('{')) {
    throw new Error(`load generator failed (exit ${code}): ${err || out}`);
  }
  const r = JSON.parse(json);
  return { ...r, rps: r.requests / r.durationS };
}

// ---------------------------------------------------------------- pixeltrail state

// ---------------------------------------------------------------- the benches

/** wrk for the pixel runs unless autocannon was asked for (or --amount, which wrk lacks). */
function pixelGenerator(opts, log) {
  if (opts.generator !== 'wrk' || opts.amount) return null;
  const bin = debianBinary(WRK, 'wrk', log);
  if (!bin) log('wrk could not be installed: autocannon drives the pixel runs');
  return bin;
}

async function pixelBench(target, opts, log) {
  const headers = { 'user-agent': USER_AGENT };
  const { connections } = opts;
  // wrk runs for a time; autocannon for a number of requests, sized from its warm-up.
  const drive = opts.wrk
    ? (run) =>
        wrkLoad(
          opts.wrk,
          { base: target.base, path: target.path, connections, headers, ...run },
          opts.dir,
        )
    : (run) =>
        load({
          url: `${target.base}${target.path}`,
          connections,
          headers,
          idReplacement: target.path.includes('[<id>]'),
          ...run,
        });
  log(`  ${target.name}: warming up ${opts.warmupS} s ...`);
  const warm = await drive({ durationS: opts.warmupS });
  const sized = Math.round((warm.rps * opts.durationS) / 1000) * 1000;
  const measured = opts.wrk
    ? { durationS: opts.durationS }
    : { amount: opts.amount ?? Math.max(MIN_PIXEL_REQUESTS, sized) };
  log(
    `  ${target.name}: ${measured.amount ?? `${measured.durationS} s`}, ${connections} connections ...`,
  );
  const before = target.countStored ? await settledCount(target.base, (s) => s.impressions) : 0;
  const cpuBefore = target.pid ? cpuSeconds(target.pid) : null;
  const run = await drive(measured);
  const cpuAfter = target.pid ? cpuSeconds(target.pid) : null;
  // Server CPU per answered request, all threads (the writer thread included).
  const cpuUsPerReq =
    cpuBefore !== null && cpuAfter !== null ? ((cpuAfter - cpuBefore) * 1e6) / run.requests : null;
  const result = { ...run, name: target.name, warmupRequests: warm.requests, cpuUsPerReq };
  if (!target.countStored) return result;
  const stored = await settledCount(target.base, (s) => s.impressions, before + run.ok);
  return { ...result, stored: stored - before };
}

const PIXELTRAIL_TARGET = 'pixeltrail /i';
const BARE_TARGET = 'bare node:http';
const NGINX1_TARGET = 'nginx empty_gif, 1 worker';

/**
 * Every pixel target in the order each round runs them: how to start it (the one pixeltrail
 * process runs throughout; the others start for their run and stop after, so an idle server
 * never shares the cores with a measured one) and what it is asked.
 */
async function pixelTargets(opts, ctx) {
  const { pixeltrail, dir, log, skipped } = ctx;
  const node =
    (name, args, env = {}) =>
    () =>
      startServer(name, args, env, dir);
  const pt = {
    name: PIXELTRAIL_TARGET,
    path: PIXELTRAIL_PIXEL_PATH,
    countStored: true,
    start: async () => pixeltrail,
    keep: true,
  };
  if (opts.profile) return [pt];
  const bareArgs = [path.join(BENCH_DIR, 'bare-gif-server.mjs')];
  const targets = [{ name: BARE_TARGET, path: BARE_PIXEL_PATH, start: node('bare', bareArgs) }];
  // What node:cluster itself gives with as many workers as `serve --workers`: the ceiling
  // of goal 2 for any Node server on this box.
  if (opts.workers > 1)
    targets.push({
      name: `bare node:http, ${opts.workers} workers (node:cluster)`,
      path: BARE_PIXEL_PATH,
      start: node('bare-workers', [...bareArgs, '--workers', String(opts.workers)]),
    });
  // The floor of durable recording: bare node:http plus a batched SQLite insert per hit,
  // without and with the indexes attribution needs (floor-gif-server.mjs).
  for (const mode of ['plain', 'indexed'])
    targets.push({
      name: `node:http + SQLite every 10 ms, ${mode === 'plain' ? 'no index' : 'touch indexes'}`,
      path: PIXELTRAIL_PIXEL_PATH,
      start: node(`floor-${mode}`, [path.join(BENCH_DIR, 'floor-gif-server.mjs'), mode]),
    });
  const nginx = debianBinary(NGINX, 'nginx', log);
  if (!nginx) skipped.push('nginx empty_gif: nginx could not be installed');
  for (const workers of nginx ? [...new Set([1, os.cpus().length])] : [])
    targets.push({
      name: `nginx empty_gif, ${workers} worker${workers > 1 ? 's' : ''}`,
      path: BARE_PIXEL_PATH,
      start: () => startNginx(nginx, workers, dir),
    });
  targets.push(pt);
  if (opts.workers > 1) {
    // Several workers need PostgreSQL (SQLite has one writer): a fresh database for them.
    let db = ctx.pgDb;
    try {
      db ??= await createBenchDatabase(`${opts.pgUrl}`);
      if (db !== ctx.pgDb) ctx.extraDbs.push(db);
      targets.push({
        name: `pixeltrail /i, serve --workers ${opts.workers} (PostgreSQL)`,
        path: PIXELTRAIL_PIXEL_PATH,
        countStored: true,
        start: node(
          `pixeltrail-workers-${opts.workers}`,
          serveArgs('--workers', String(opts.workers)),
          { ...ctx.ptEnv, DATABASE_URL: db.url },
        ),
      });
    } catch (e) {
      skipped.push(`serve --workers ${opts.workers}: ${e.message.split('\n')[0]}`);
    }
  }
  return targets;
}

/**
 * `--rounds` rounds over every target, each run next to the others of its round: the load on
 * a shared machine drifts over minutes, and a ratio of two runs a round apart measured the
 * drift as much as the servers. A target that fails to start is dropped, and said so.
 */
async function pixelRounds(targets, opts, servers, log, skipped) {
  const runs = new Map(targets.map((t) => [t.name, []]));
  let live = targets;
  for (let round = 1; round <= opts.rounds; round++) {
    log(`impression pixel, round ${round} of ${opts.rounds}:`);
    const failedToStart = new Set();
    for (const t of live) {
      let server;
      try {
        server = await t.start();
      } catch (e) {
        skipped.push(`${t.name}: ${e.message.split('\n')[0]}`);
        failedToStart.add(t);
        continue;
      }
      if (!t.keep) servers.push(server);
      try {
        const target = { ...t, base: server.base, pid: server.child.pid };
        runs.get(t.name).push(await pixelBench(target, opts, log));
      } finally {
        if (!t.keep) await stopServer(server);
      }
    }
    live = live.filter((t) => !failedToStart.has(t));
  }
  return runs;
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** A target's row: its median run by req/s (latencies and CPU from that run) and the spread. */
function summarize(target, runs) {
  const list = runs.get(target.name);
  const byRps = [...list].sort((a, b) => a.rps - b.rps);
  const mid = byRps[(byRps.length - 1) >> 1];
  return {
    ...mid,
    name: target.name,
    rounds: list.length,
    rps: median(list.map((r) => r.rps)),
    minRps: byRps[0].rps,
    maxRps: byRps.at(-1).rps,
    requests: list.reduce((n, r) => n + r.requests, 0),
    non2xx: list.reduce((n, r) => n + r.non2xx, 0),
    errors: list.reduce((n, r) => n + r.errors, 0),
    cpuUsPerReq: list.some((r) => r.cpuUsPerReq === null)
      ? null
      : median(list.map((r) => r.cpuUsPerReq)),
  };
}

/** Each row's ratio to bare node:http and to nginx 1 worker: the median of per-round ratios. */
function withRatios(pixel, runs) {
  const of = (name, base) => {
    const a = runs.get(name) ?? [];
    const b = runs.get(base) ?? [];
    const n = Math.min(a.length, b.length);
    return n === 0 ? null : median(a.slice(0, n).map((r, i) => r.rps / b[i].rps));
  };
  for (const row of pixel) {
    row.ratioBare = of(row.name, BARE_TARGET);
    row.ratioNginx1 = of(row.name, NGINX1_TARGET);
  }
}

function eventsBody(size) {
  const events = Array.from({ length: size }, (_, i) => ({
    event_name: 'Purchase',
    // `[<id>]` is fresh per request; the index keeps the events of one request apart.
    event_id: `bench-[<id>]-${i}`,
    user: { ip: '203.0.113.9', user_agent: 'Mozilla/5.0' },
    properties: { value: 1, currency: 'EUR' },
  }));
  return JSON.stringify({ events });
}

async function eventsBench(base, size, opts, dir, log) {
  const bodyPath = path.join(dir, `events-${size}.json`);
  fs.writeFileSync(bodyPath, eventsBody(size));
  const connections = Math.min(
    opts.eventConnections,
    Math.max(2, Math.floor(EVENTS_IN_FLIGHT / size)),
  );
  const spec = {
    url: `${base}/v1/events`,
    connections,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
    bodyPath,
    idReplacement: true,
    timeout: EVENTS_TIMEOUT_S,
  };
  log(`  batch ${size}: ${opts.eventsDurationS} s, ${connections} connections ...`);
  const pick = (s) => s.events + s.duplicates;
  const before = await settledCount(base, pick);
  const warm = await load({ ...spec, durationS: EVENTS_WARMUP_S });
  const run = await load({ ...spec, durationS: opts.eventsDurationS });
  // A timed run drops the requests in flight when it stops, which may still commit: so the
  // check is stored >= acknowledged.
  const stored = (await settledCount(base, pick)) - before;
  const { duplicates } = await stats(base);
  return {
    ...run,
    size,
    connections,
    eventsPerS: (run.ok * size) / run.durationS,
    acked: (warm.ok + run.ok) * size,
    stored,
    duplicates,
  };
}

// ---------------------------------------------------------------- report

/** `wrk 4.1.0`, from its own banner. */
function wrkVersion() {
  try {
    // wrk -v prints its banner and exits 1.
    execFileSync(WRK, ['-v'], { stdio: 'pipe' });
  } catch (e) {
    const m = /^wrk [^\s]+/.exec(String(e.stdout ?? ''));
    if (m) return m[0];
  }
  return 'wrk';
}

function machine() {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT }).toString();
    if (dirty.trim()) commit += ' + uncommitted changes in src/';
  } catch {
    // Not a git checkout.
  }
  const pkg = path.join(ROOT, 'node_modules', 'autocannon', 'package.json');
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    ramGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    date: new Date().toISOString(),
    commit,
    autocannon: JSON.parse(fs.readFileSync(pkg, 'utf8')).version,
    wrk: wrkVersion(),
    loadAvg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', '),
  };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const share = (r) =>
  `${Math.round(100 * r.cpuShare)}%${r.cpuShare >= GENERATOR_SATURATED_SHARE ? ' (limit)' : ''}`;

/** A Markdown table laid out the way `biome format` leaves it; `right` marks numeric columns. */
function mdTable(header, right, rows) {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const cell = (text, i) => (right[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)];
}

/** Each target as a ratio of bare node:http and of nginx empty_gif with 1 worker. */
function ratioLines(pixel) {
  const x = (v) => (v == null ? '–' : v.toFixed(2));
  return [
    'Ratios, each the median over the rounds of the ratio within a round (goals: pixeltrail ' +
      '1 process ≥ 0.90 of bare node:http; `serve --workers 2` ≥ 0.60 of nginx with 1 worker):',
    '',
    ...mdTable(
      ['target', 'req/s (median)', '÷ bare node:http', '÷ nginx 1 worker'],
      [false, true, true, true],
      pixel.map((r) => [r.name, fmt(r.rps), x(r.ratioBare), x(r.ratioNginx1)]),
    ),
  ];
}

function attributionLines(a) {
  if (!a) return [];
  const ms = (x) => x.toFixed(3);
  return [
    '',
    `## Attribution at conversion time: ${fmt(a.touches)} touches on SQLite`,
    '',
    `The store's schema seeded with ${fmt(a.touches)} touches over 30 days (5 per browser, 2 ` +
      `browsers per IP, 10% clicks, 5% with a user id; seeding took ${a.seededS.toFixed(0)} s` +
      `${a.reused ? ', reused from an earlier run' : ''}), then read once into the OS page ` +
      "cache, as a running server's indexes are in memory. Each conversion is looked up as the " +
      'server does it (`personTouches`: browser id, IP, user id, click/imp id, each on its ' +
      'index; then `attribute` per destination) inside the ingest transaction; 10% are ' +
      'browsers with no touch.',
    '',
    ...mdTable(
      [
        'lookups',
        'p50 ms',
        'p99 ms',
        'max ms',
        'CPU p50 / p99 ms',
        'attributed',
        'conversions/s (whole ingest)',
      ],
      [true, true, true, true, true, true, true],
      [
        [
          fmt(a.lookup.n),
          ms(a.lookup.p50),
          `**${ms(a.lookup.p99)}**`,
          ms(a.lookup.max),
          `${ms(a.lookup.cpuP50)} / ${ms(a.lookup.cpuP99)}`,
          fmt(a.lookup.matched),
          `**${fmt(a.conversions.perS)}**`,
        ],
      ],
    ),
    '',
    'Goal: p99 < 1 ms (wall time). "CPU" is the thread\'s CPU time per lookup: where it ' +
      'stays low while the wall-time tail is high, the thread was waiting (descheduled by ' +
      'other work on the machine, or reading pages from disk). "conversions/s" runs the whole ingest of a conversion event (dedup, ' +
      'event row, identity links, attribution, conversion, path and outbox rows) in ' +
      'transactions of 250, as the pipeline commits them, without HTTP.',
    '',
    'Query plans of the lookups:',
    '',
    ...a.plans.map(([key, plan]) => `- ${key}: \`${plan}\``),
  ];
}

function tagLines(t) {
  if (!t) return [];
  const ms = (x) => x.toFixed(1);
  return [
    '',
    '## Tag on page load in Chromium',
    '',
    `The same shop page with the tag (loader snippet, \`/t.js?env_id=\` async for an ` +
      'environment without trigger rules, `init` and a `Purchase`), with a trivial script of ' +
      'the same shape instead (the stub, an async script that takes the queue, the same two ' +
      `calls), and with neither: ${t.loads} first-visit loads of each in Debian's Chromium ` +
      '(headless). "script" is Chrome\'s ScriptDuration (CDP `Performance.getMetrics`) over ' +
      'the load, the beacon and 300 ms after; "before load" is the script time of the tasks ' +
      "that started before the window's load event (a devtools.timeline trace): the load path, " +
      'which the tag\'s idle-time work (storage, beacon) is not on; "CPU" is the main thread\'s ' +
      'own CPU time in those tasks, which leaves out the turns other processes took meanwhile ' +
      '(wall time counts them on a loaded machine). Medians:',
    '',
    ...mdTable(
      ['', 'script ms', 'before load ms', 'before load, CPU ms', 'all tasks ms'],
      [false, true, true, true, true],
      [
        [
          'page with the tag',
          ms(t.withTag.scriptMs),
          ms(t.withTag.loadScriptMs),
          ms(t.withTag.loadScriptCpuMs),
          ms(t.withTag.taskMs),
        ],
        [
          'page with the trivial script',
          ms(t.trivial.scriptMs),
          ms(t.trivial.loadScriptMs),
          ms(t.trivial.loadScriptCpuMs),
          ms(t.trivial.taskMs),
        ],
        [
          'page with neither',
          ms(t.without.scriptMs),
          ms(t.without.loadScriptMs),
          ms(t.without.loadScriptCpuMs),
          ms(t.without.taskMs),
        ],
        [
          '**the tag** (with − trivial)',
          `**${ms(t.scriptMs)}**`,
          `**${ms(t.loadScriptMs)}**`,
          `**${ms(t.loadScriptCpuMs)}**`,
          `**${ms(t.taskMs)}**`,
        ],
      ],
    ),
    '',
    `\`/t.js\`: ${fmt(t.rawBytes)} bytes, ${fmt(t.gzipBytes)} bytes gzipped. Goal (issue 22): under 3 ms of ` +
      'script on the load path, under 3 KB gzipped.',
  ];
}

function extraLines(memory, tag, skipped, attribution = null, tagRun = null) {
  const lines = [
    ...attributionLines(attribution),
    ...tagLines(tagRun),
    '',
    '## Memory and tag',
    '',
  ];
  for (const [when, mib] of memory) lines.push(`- pixeltrail RSS ${when}: ${mib.toFixed(0)} MiB`);
  if (tag)
    lines.push(
      `- \`/t.js\`: ${fmt(tag.raw)} bytes, **${fmt(tag.gzip)} bytes gzipped** (goal < 3 KB)` +
        (tagRun
          ? `; main-thread script on a first visit ${tagRun.loadScriptMs.toFixed(1)} ms before load (${tagRun.loadScriptCpuMs.toFixed(1)} ms of its CPU), ${tagRun.scriptMs.toFixed(1)} ms in all`
          : ''),
    );
  if (skipped.length > 0)
    lines.push('', 'Not measured in this run:', '', ...skipped.map((x) => `- ${x}`));
  return lines;
}

function report(m, opts, pixel, ratio, check, events, extra = []) {
  const lines = [
    '# pixeltrail bench results',
    '',
    `Generated by \`npm run bench\` (bench/run.mjs) on ${m.date}; regenerated on every run.`,
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores; RAM ${m.ramGiB} GiB; ${m.os}`,
    `- Node ${m.node}; pixeltrail ${m.commit}; store: ${opts.store === 'postgres' ? 'PostgreSQL (local)' : 'SQLite (embedded)'}`,
    `- Load: ${opts.wrk ? `pixel runs by ${m.wrk}, one thread pinned to core ${m.cores - 1}; ` : ''}` +
      `${opts.wrk ? '/v1/events by ' : ''}autocannon ${m.autocannon}; each in its own process ` +
      `on the same machine, so the generator competes with the server for the ${m.cores} ` +
      'cores; keep-alive; 127.0.0.1 only',
    `- Load average when written (1, 5, 15 min): ${m.loadAvg}. Other work on the machine ` +
      'lowers every number.',
    '',
    '## Impression pixel: `GET /i` vs bare `node:http` and nginx `empty_gif`',
    '',
    `${opts.connections} connections after a ${opts.warmupS} s warm-up; browser User-Agent, no ` +
      'cookie (every hit is a new browser, so pixeltrail also sets `ptid`); a fresh `imp_id` ' +
      `per pixeltrail request; pixeltrail flush interval ${opts.flushInterval}. "gen CPU" is ` +
      "the load generator's share of one core; (limit) marks a run where the generator, not " +
      'the server, set the pace. Each target ran once per round, ' +
      `${opts.rounds} round${opts.rounds > 1 ? 's' : ''}, in the order listed; a row's req/s ` +
      'and server CPU are the medians over the rounds, its latencies those of the median run ' +
      'by req/s (the lower of the two middle ones for an even count), with the slowest and ' +
      'fastest run beside it, and requests summed over the rounds. "server CPU µs/req" is the CPU time the server process (every ' +
      'thread, and its workers) spent per request during the run: the cost of a hit, which ' +
      'other load on the machine moves far less than req/s.',
    '',
    ...mdTable(
      [
        'target',
        'requests',
        'req/s',
        'slowest–fastest',
        'server CPU µs/req',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'errors',
        'gen CPU',
      ],
      [false, true, true, true, true, true, true, true, true, true],
      pixel.map((r) => [
        r.name,
        fmt(r.requests),
        fmt(r.rps),
        `${fmt(r.minRps)}–${fmt(r.maxRps)}`,
        r.cpuUsPerReq === null ? '–' : r.cpuUsPerReq.toFixed(1),
        String(r.p50),
        String(r.p99),
        fmt(r.non2xx),
        fmt(r.errors),
        share(r),
      ]),
    ),
    ...(Number.isFinite(ratio)
      ? ['', `**pixeltrail / bare (median of the rounds): ${ratio.toFixed(2)}**`]
      : []),
    '',
    ...ratioLines(pixel),
    '',
    check.sent == null
      ? `Impressions stored vs 200s answered (after the last flush): ${fmt(check.stored)} vs ` +
        `${fmt(check.ok)} (must be equal) → **${check.verdict}**`
      : `Impressions stored after the last flush: ${fmt(check.stored)}; 200s answered ` +
        `${fmt(check.ok)}, requests sent ${fmt(check.sent)} (the generator stops with requests ` +
        `in flight: stored must lie between the two) → **${check.verdict}**`,
  ];
  if (events.length > 0) {
    lines.push(
      '',
      '## Server API: `POST /v1/events` (answers after its batch is committed)',
      '',
      `${opts.eventsDurationS} s per batch size after a ${EVENTS_WARMUP_S} s warm-up, at most ` +
        `${EVENTS_IN_FLIGHT} events in flight; \`Purchase\` events with unique \`event_id\`s, ` +
        'so none is a duplicate (each also goes through attribution and becomes a conversion ' +
        'row; none matches a touch, so nothing is queued for delivery).',
      '',
      ...mdTable(
        [
          'events/request',
          'connections',
          'requests',
          'events/s',
          'p50 ms',
          'p99 ms',
          'non-2xx',
          'errors',
          'acknowledged',
          'stored',
        ],
        Array(10).fill(true),
        events.map((r) => [
          String(r.size),
          String(r.connections),
          fmt(r.requests),
          `**${fmt(r.eventsPerS)}**`,
          String(r.p50),
          String(r.p99),
          fmt(r.non2xx),
          fmt(r.errors),
          fmt(r.acked),
          fmt(r.stored),
        ]),
      ),
      '',
      'Acknowledged (warm-up included) must never exceed stored; stored may be higher by ' +
        'requests still in flight when a timed run stops.',
    );
  }
  lines.push(...extra);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- soak

/** Mixed load in slices; each slice's pixel rate and latency, events/s and server RSS. */
async function soak(opts, pixeltrail, dir, log) {
  const bodyPath = path.join(dir, 'soak-events.json');
  fs.writeFileSync(bodyPath, eventsBody(SOAK_EVENT_BATCH));
  const slices = [];
  const started = Date.now();
  const endAt = started + opts.soakMinutes * 60_000;
  const rest = rssMiB(pixeltrail.child.pid);
  while (Date.now() < endAt) {
    const [px, ev] = await Promise.all([
      load({
        url: `${pixeltrail.base}${PIXELTRAIL_PIXEL_PATH}`,
        connections: opts.connections,
        headers: { 'user-agent': USER_AGENT },
        idReplacement: true,
        durationS: opts.soakSliceS,
      }),
      load({
        url: `${pixeltrail.base}/v1/events`,
        connections: SOAK_EVENT_CONNECTIONS,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
        bodyPath,
        idReplacement: true,
        timeout: EVENTS_TIMEOUT_S,
        durationS: opts.soakSliceS,
      }),
    ]);
    const slice = {
      t: Math.round((Date.now() - started) / 1000),
      pixelRps: px.rps,
      p50: px.p50,
      p99: px.p99,
      eventsPerS: ev.durationS > 0 ? (ev.ok * SOAK_EVENT_BATCH) / ev.durationS : 0,
      eventsNon2xx: ev.non2xx,
      rss: rssMiB(pixeltrail.child.pid),
    };
    slices.push(slice);
    log(
      `  ${slice.t} s: /i ${fmt(slice.pixelRps)} req/s p99 ${slice.p99} ms, ` +
        `${fmt(slice.eventsPerS)} events/s, RSS ${slice.rss.toFixed(0)} MiB`,
    );
  }
  const x = slices.map((s) => s.t);
  const drawn = await renderSoakChart(SOAK_PNG, x, [
    ['pixeltrail RSS (MiB)', [['RSS MiB', slices.map((s) => Math.round(s.rss))]]],
    [
      '/i latency (ms)',
      [
        ['p50 ms', slices.map((s) => s.p50)],
        ['p99 ms', slices.map((s) => s.p99)],
      ],
    ],
    [
      'throughput',
      [
        ['/i req/s', slices.map((s) => Math.round(s.pixelRps))],
        ['events/s', slices.map((s) => Math.round(s.eventsPerS))],
      ],
    ],
  ]);
  const warm = slices.slice(Math.floor(slices.length / 3));
  const m = machine();
  const text = [
    '# pixeltrail soak',
    '',
    `Generated by \`npm run bench -- --soak\` on ${m.date}: ${opts.soakMinutes} min of mixed load ` +
      `(${opts.connections} connections on \`/i\`, ${SOAK_EVENT_CONNECTIONS} on \`/v1/events\` in ` +
      `batches of ${SOAK_EVENT_BATCH}), measured in ${opts.soakSliceS} s slices.`,
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores; Node ${m.node}; pixeltrail ${m.commit}; load average ${m.loadAvg}`,
    `- RSS at rest ${rest.toFixed(0)} MiB; after warm-up (last two thirds of the run) ` +
      `${Math.min(...warm.map((s) => s.rss)).toFixed(0)}–${Math.max(...warm.map((s) => s.rss)).toFixed(0)} MiB`,
    drawn ? '- Chart: [soak.png](soak.png)' : '- Chart: not drawn (no /usr/bin/chromium)',
    '',
    ...mdTable(
      ['t s', '/i req/s', 'p50 ms', 'p99 ms', 'events/s', 'events non-2xx', 'RSS MiB'],
      Array(7).fill(true),
      slices.map((s) => [
        String(s.t),
        fmt(s.pixelRps),
        String(s.p50),
        String(s.p99),
        fmt(s.eventsPerS),
        fmt(s.eventsNon2xx),
        s.rss.toFixed(0),
      ]),
    ),
  ].join('\n');
  fs.writeFileSync(SOAK_PATH, `${text}\n`);
  process.stdout.write(`${text}\n`);
  log(`\nwritten to ${path.relative(process.cwd(), SOAK_PATH)} and soak.png`);
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = options();
  if (opts.help) return void process.stdout.write(`${USAGE}\n`);
  const cores = os.cpus().length;
  if (opts.pinServers && cores > 1) pinServers(cores > 2 ? `0-${cores - 2}` : '0');
  const log = (msg) => process.stderr.write(`${msg}\n`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('run npm run build first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-bench-'));
  opts.dir = dir;
  opts.wrk = opts.soak ? null : pixelGenerator(opts, log);
  const profileDir = path.join(dir, 'profile');
  const servers = [];
  let failed = false;
  let pgDb = null;
  const extraDbs = [];
  try {
    log(`starting servers (data and logs in ${dir}) ...`);
    const prof = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const ptEnv = {
      PIXELTRAIL_CONFIG: writeConfig(dir, opts),
      PIXELTRAIL_DATA: path.join(dir, 'data'),
    };
    if (opts.store === 'postgres') {
      pgDb = await createBenchDatabase(opts.pgUrl);
      ptEnv.DATABASE_URL = pgDb.url;
      log(`store: PostgreSQL database ${pgDb.name}`);
    }
    const pixeltrail = await startServer('pixeltrail', [...prof, ...serveArgs()], ptEnv, dir);
    servers.push(pixeltrail);
    if (opts.soak) return void (await soak(opts, pixeltrail, dir, log));
    const skipped = [];
    const memory = [['at rest, after start', rssMiB(pixeltrail.child.pid)]];
    const targets = await pixelTargets(opts, {
      pixeltrail,
      ptEnv,
      pgDb,
      extraDbs,
      dir,
      log,
      skipped,
    });
    const runs = await pixelRounds(targets, opts, servers, log, skipped);
    memory.push(['after the pixel runs', rssMiB(pixeltrail.child.pid)]);
    const pixel = targets.filter((t) => runs.get(t.name).length > 0).map((t) => summarize(t, runs));
    withRatios(pixel, runs);
    const ptRuns = runs.get(PIXELTRAIL_TARGET);
    const ptRun = pixel.find((r) => r.name === PIXELTRAIL_TARGET);
    const ratio = ptRun.ratioBare ?? Number.NaN;
    // A timed (wrk) run stops with requests in flight, which the server may still answer and
    // store: then every 200 must be stored, and nothing stored that was never sent.
    const held = (r) =>
      r.sent == null ? r.stored === r.ok : r.ok <= r.stored && r.stored <= r.sent;
    const stored = targets.filter((t) => t.countStored).flatMap((t) => runs.get(t.name));
    const verdict = stored.every(held) ? 'HELD' : 'MISMATCH';
    const total = (k) =>
      ptRuns.some((r) => r[k] == null) ? null : ptRuns.reduce((n, r) => n + r[k], 0);
    const check = { stored: total('stored'), ok: total('ok'), sent: total('sent'), verdict };
    failed = verdict !== 'HELD';

    const events = [];
    if (opts.eventsDurationS > 0) {
      log('POST /v1/events:');
      for (const size of EVENT_BATCH_SIZES) {
        const r = await eventsBench(pixeltrail.base, size, opts, dir, log);
        if (r.stored < r.acked || r.duplicates > 0) {
          log(`  LOST OR DUPLICATED: acked ${r.acked}, stored ${r.stored}, dups ${r.duplicates}`);
          failed = true;
        }
        events.push(r);
      }
    }

    let single = null;
    if (opts.singleRounds > 0 && opts.wrk) {
      // A server of its own, with an empty store: the pixel runs left hundreds of thousands of
      // touches from 127.0.0.1, the address the tag's beacon comes from, and every beacon's
      // Purchase would read (and keep in its path) the 300 a shared address is allowed, a
      // worst case, not the single event the rows compare.
      const singleEnv = { ...ptEnv, PIXELTRAIL_DATA: path.join(dir, 'data-single') };
      if (pgDb) {
        const db = await createBenchDatabase(opts.pgUrl);
        extraDbs.push(db);
        singleEnv.DATABASE_URL = db.url;
      }
      const fresh = await startServer('pixeltrail-single', serveArgs(), singleEnv, dir);
      try {
        single = await singleEventBench(fresh, {
          wrk: opts.wrk,
          dir,
          log,
          rounds: opts.singleRounds,
          durationS: opts.singleDurationS,
          warmupS: wrkWarmupS(opts.warmupS),
          connections: opts.connections,
        });
      } finally {
        await stopServer(fresh);
      }
      if (single.some((r) => r.held === false)) {
        log('  ONE-EVENT RUNS: stored outside [answered, sent]');
        failed = true;
      }
    } else if (opts.singleRounds > 0) skipped.push('one event per request: needs wrk');
    let busy = null;
    if (opts.singleRounds > 0 && opts.wrk && !pgDb) {
      // A server and store of its own, seeded with one address's touches (issue 22's cliff).
      busy = await busyAddressServer({
        wrk: opts.wrk,
        touches: BUSY_TOUCHES,
        rounds: opts.singleRounds,
        durationS: opts.singleDurationS,
        warmupS: wrkWarmupS(opts.warmupS),
        connections: opts.connections,
        log,
      });
    } else if (opts.singleRounds > 0 && pgDb)
      skipped.push('Purchase from a busy address (seeds SQLite only)');
    let backlogRounds = null;
    let backlogRows = null;
    if (opts.backlog > 0 && !pgDb) {
      log('delivery claim beside a backlog:');
      backlogRounds = await claimRounds({
        cases: [
          ...[...new Set([0, 10_000, opts.backlog])].map((backlog) => ({ backlog })),
          { backlog: 0, lanes: BACKLOG_HELD_LANES },
        ],
        rounds: BACKLOG_CLAIM_ROUNDS,
        log,
      });
      if (opts.singleRounds > 0 && opts.wrk) {
        backlogRows = await backlogServer({
          wrk: opts.wrk,
          backlog: opts.backlog,
          rounds: opts.singleRounds,
          durationS: opts.singleDurationS,
          warmupS: wrkWarmupS(opts.warmupS),
          connections: opts.connections,
          log,
        });
      }
    } else if (opts.backlog > 0) skipped.push('delivery beside a backlog (seeds SQLite only)');
    let reports = null;
    if (opts.reportConversions > 0 && opts.singleRounds > 0 && opts.wrk && !pgDb) {
      reports = await reportsBesideIngest({
        wrk: opts.wrk,
        conversions: opts.reportConversions,
        rounds: opts.singleRounds,
        durationS: opts.singleDurationS,
        warmupS: wrkWarmupS(opts.warmupS),
        connections: opts.connections,
        log,
      });
    } else if (opts.reportConversions > 0 && pgDb)
      skipped.push('the pixel beside dashboard reports (seeds SQLite only)');
    let partitions = null;
    if (opts.pgPartitionDays > 0 && opts.singleRounds > 0 && opts.wrk) {
      log(`one event per request, PostgreSQL with ${opts.pgPartitionDays} days of partitions:`);
      try {
        partitions = await pgPartitions({
          wrk: opts.wrk,
          pgUrl: opts.pgUrl,
          days: opts.pgPartitionDays,
          rounds: opts.singleRounds,
          durationS: opts.singleDurationS,
          warmupS: wrkWarmupS(opts.warmupS),
          connections: opts.connections,
          log,
        });
        if (!partitions.rows.every((r) => r.held)) failed = true;
      } catch (e) {
        skipped.push(`PostgreSQL with past partitions: ${e.message.split('\n')[0]}`);
      }
    } else if (opts.pgPartitionDays > 0)
      skipped.push('PostgreSQL with past partitions (with the one-event runs)');
    else skipped.push('PostgreSQL with past partitions (--pg-partition-days 0)');
    const purgeSizes = {
      events: opts.purgeEvents,
      dedupKeys: opts.purgeEvents * 2,
      touches: Math.round(opts.purgeEvents * 0.4),
    };
    let purge = null;
    if (opts.purgeEvents > 0) {
      log('hourly purge (SQLite):');
      purge = await purgeStall({ ...purgeSizes, log });
    } else skipped.push('the hourly purge (--purge-events 0)');
    let admin = null;
    if (opts.adminTouches > 0 && !pgDb) {
      log('admin calls beside the server (SQLite):');
      admin = await adminHolds({ touches: opts.adminTouches, log });
    } else if (opts.adminTouches > 0) skipped.push('admin calls beside the server (SQLite only)');
    else skipped.push('admin calls beside the server (--admin-touches 0)');
    let life = null;
    if (opts.lifePurchases > 0 && !pgDb) {
      log("a Purchase's life (SQLite):");
      life = await purchaseLife({ purchases: opts.lifePurchases, rounds: 2, log });
    } else if (opts.lifePurchases > 0) skipped.push("a Purchase's life (SQLite only)");
    else skipped.push("a Purchase's life (--life-purchases 0)");
    let markov = null;
    if (opts.markovJourneys > 0) {
      log('data-driven removal effects:');
      markov = await markovRemoval({ journeys: opts.markovJourneys, baselineMax: 400, log });
    } else skipped.push('the data-driven model as channels grow (--markov-journeys 0)');
    if (events.length > 0) memory.push(['after the events runs', rssMiB(pixeltrail.child.pid)]);
    let attribution = null;
    if (opts.attributionTouches > 0) {
      log('attribution lookup:');
      attribution = await attributionBench({
        touches: opts.attributionTouches,
        lookups: opts.attributionLookups,
        log,
      });
    } else skipped.push('attribution lookup latency (--attribution-touches 0)');
    let tagRun = null;
    if (opts.tagLoads > 0 && fs.existsSync(CHROMIUM_PATH)) {
      log('tag in Chromium:');
      tagRun = await tagMainThreadBench({ loads: opts.tagLoads, log });
    } else
      skipped.push(
        opts.tagLoads > 0
          ? `tag main-thread time: ${CHROMIUM_PATH} is missing`
          : 'tag main-thread time (--tag-loads 0)',
      );
    skipped.push('RSS after 10 minutes of full load (--soak)');
    const text = report(machine(), opts, pixel, ratio, check, events, [
      ...singleEventLines(single, opts),
      ...busyAddressLines(busy, {
        rounds: opts.singleRounds,
        durationS: opts.singleDurationS,
        connections: opts.connections,
      }),
      ...backlogLines(backlogRows, backlogRounds, {
        claimRounds: BACKLOG_CLAIM_ROUNDS,
        rounds: opts.singleRounds,
        durationS: opts.singleDurationS,
        connections: opts.connections,
      }),
      ...reportsLines(reports, {
        conversions: opts.reportConversions,
        rounds: opts.singleRounds,
        durationS: opts.singleDurationS,
        connections: opts.connections,
      }),
      ...pgPartitionsLines(partitions),
      ...purgeLines(purge, purgeSizes),
      ...adminHoldsLines(admin),
      ...purchaseLifeLines(life),
      ...markovLines(markov),
      ...extraLines(memory, tagBytes(), skipped, attribution, tagRun),
    ]);
    process.stdout.write(`\n${text}`);
    if (opts.profile) {
      await stopServer(pixeltrail);
      const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
      const requests = ptRuns.reduce((n, r) => n + r.warmupRequests + r.requests, 0);
      process.stdout.write(`\n## CPU profile of pixeltrail (${path.join(profileDir, file)})\n\n`);
      process.stdout.write(`${summarizeProfile(path.join(profileDir, file), ROOT, requests)}\n`);
      process.stdout.write(
        '\n(--profile: the numbers include profiler overhead; RESULTS.md kept)\n',
      );
    } else {
      const out = opts.store === 'postgres' ? RESULTS_PG_PATH : RESULTS_PATH;
      fs.writeFileSync(out, withKeptHistory(out, text));
      log(`\nwritten to ${path.relative(process.cwd(), out)}`);
    }
  } finally {
    await Promise.all(servers.map(stopServer));
    for (const child of children) child.kill('SIGKILL');
    if (pgDb) await pgDb.drop();
    for (const d of extraDbs) await d.drop().catch(() => undefined);
    if (opts.keep || opts.profile) log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

/**
 * A results file is regenerated on every run, but what follows HISTORY_MARKER (earlier runs
 * and the analysis written from them) is kept below the new figures.
 */
const HISTORY_MARKER = '<!-- history: kept across runs -->';
function withKeptHistory(file, text) {
  const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const at = previous.indexOf(HISTORY_MARKER);
  return at < 0 ? text : `${text.trimEnd()}\n\n${previous.slice(at)}`;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(2);
});
