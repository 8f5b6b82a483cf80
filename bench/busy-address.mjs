// A conversion from a busy address (issue 22): a Purchase from an IP that many people share (a
// carrier's NAT, an office) with a browser that has no touch of its own. Its touch lookup by IP
// brings back the most a key may (MAX_TOUCHES_PER_LOOKUP ad touches, and visits) of strangers'
// touches, attribution walks them, and the conversion's path may keep them.
// The first full run of the round found 1,518 µs of server CPU a beacon Purchase from such an
// address against 95 µs from a quiet one (RESULTS.md).
//
// Two measures, after `npm run build`:
//   node bench/busy-address.mjs [--touches 5000] [--events 2000] [--spread-days D]   in process
//   node bench/busy-address.mjs --server [--rounds 3] [--duration 5] [--connections 64]
// Either takes --store postgres [--pg URL].
//
// In process: a store (SQLite; with --store postgres a fresh PostgreSQL database) seeded with
// --touches touches (impressions, clicks, visits; 20 user agents; a cookie every 3 touches)
// from one address inside the last day (or D days), then Purchases from that address with a new cookie and one of the user agents, one per transaction, each
// split into read (identity links and the touch lookup: SQL and the rows made into touches;
// on SQLite the address's touches by id from the touch cache the Purchases before filled; on
// PostgreSQL tx.findTouches reads the rows, and only "whole", set-wise, takes the cache),
// attribution (decisions per destination), path (the rows and
// the path's JSON) and write (path, conversion and outbox rows); "whole" is processBatch of one
// event (dedup claim and event row included). Medians of CPU time, µs.
// Server: pixeltrail started on a store seeded the same way, wrk posting `POST /v1/events`
// Purchases from the busy address and, in the same rounds, from a quiet one; the server's CPU
// time per request from /proc (run.mjs's row "Purchase from a busy address"). With
// --store postgres, the store is a fresh database on the server of --pg (dropped after), where
// processBatch takes the set-wise path; PostgreSQL's own CPU is not counted.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchDatabase } from './bench-database.mjs';
import { debianBinary } from './debian-binary.mjs';
import { ENV_ID, serveArgs, WRITE_KEY, writeConfig } from './pixeltrail-server.mjs';
import { children, cpuSeconds, startServer, stopServer } from './servers.mjs';
import { mdTable } from './single-event.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST = path.join(ROOT, 'dist');
const dist = (p) => import(pathToFileURL(path.join(DIST, p)).href);

export const BUSY_TOUCHES = 5_000;
export const BUSY_IP = '198.51.100.23';
const QUIET_IP = '192.0.2.77';
const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Touches fall inside this many seconds before now: every one inside a 1 d window. */
const DAY_SPREAD_S = 23 * 3600;
const CHUNK_ROWS = 2_000;
const AGENTS = Array.from(
  { length: 20 },
  (_, i) =>
    `Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${110 + i}.0.0.0 Mobile Safari/537.36`,
);
const BUYER_AGENT = AGENTS[7];
/** A browser behind the busy address with an impression of its own, half an hour old. */
const OWN_BUYER = 'own-buyer';

/** Touch `i` of the busy address: 60 % impressions, 10 % clicks, 30 % visits. */
function busyTouch(i, ip, nowS, spreadS) {
  const r = i % 10;
  const kind = r === 0 ? 'click' : r < 7 ? 'impression' : 'visit';
  const ad = kind !== 'visit';
  return {
    env_id: ENV_ID,
    kind,
    touch_id: `${kind.slice(0, 3)}-${i}`,
    dest_id: ad && i % 4 !== 0 ? 'dsp1' : null,
    campaign_id: ad ? `c${i % 12}` : null,
    creative_id: ad ? `cr${i % 40}` : null,
    placement_id: null,
    // Scattered over the day (7919 is prime), none in the last minute.
    time: nowS - 60 - ((i * 7919) % spreadS),
    anonymous_id: `anon-${Math.floor(i / 3)}`,
    user_id: null,
    ip,
    user_agent: AGENTS[i % AGENTS.length],
    ...(kind === 'visit'
      ? { traffic_source: { source: 'google', medium: 'organic', by: 'referrer' } }
      : {}),
  };
}

/** Writes `n` touches from `ipRaw` (protected as the environment stores it) into `store`. */
export async function seedBusyAddress(store, env, n, ipRaw, nowS, spreadS = DAY_SPREAD_S) {
  const { protectIp } = await dist('domain/ip-privacy.js');
  const ip = protectIp(ipRaw, env.ip_storage, env.ip_secret);
  for (let from = 0; from < n; from += CHUNK_ROWS) {
    const touches = [];
    for (let i = from; i < Math.min(n, from + CHUNK_ROWS); i++)
      touches.push(busyTouch(i, ip, nowS, spreadS));
    await store.ingest((tx) => tx.insertTouches(touches));
  }
  const own = { ...busyTouch(1, ip, nowS, spreadS), touch_id: 'IMP-OWN', dest_id: 'dsp1' };
  const mine = { ...own, anonymous_id: OWN_BUYER, user_agent: BUYER_AGENT, time: nowS - 1800 };
  await store.ingest((tx) => tx.insertTouches([mine]));
}

/** The lower middle value (a value that was measured, not an average of two). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[(s.length - 1) >> 1];
};
const cpuUs = (c0) => {
  const c = process.cpuUsage(c0);
  return c.user + c.system;
};

/** In process, by phase; resolves with medians in µs and what the reads and paths held. */
export async function busyAddressPhases({
  touches,
  events,
  spreadDays = null,
  log,
  store: kind = 'sqlite',
  pgUrl = PG_ADMIN_URL,
}) {
  const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
  const { openPostgresStore } = await dist('store/postgres/open-postgres.js');
  const { loadConfig } = await dist('config/config-load.js');
  const { decisionInput, decideChecked } = await dist('ingest/decisions.js');
  const { conversionRows } = await dist('ingest/conversions.js');
  const { eventChecks } = await dist('ingest/install-checks.js');
  const { arrive } = await dist('ingest/conversions.js');
  const { processBatch } = await dist('ingest/ingest-pipeline.js');
  const { validateEvent } = await dist('domain/validation.js');
  const { newId } = await dist('server.js');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-busy-'));
  const db =
    kind === 'postgres' ? await createBenchDatabase(pgUrl, `pixeltrail_busy_${process.pid}`) : null;
  try {
    const dataDir = path.join(dir, 'data');
    const config = loadConfig({
      PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: '10ms' }),
      PIXELTRAIL_DATA: dataDir,
    });
    const env = config.environments[0];
    const dests = env.destinations;
    const store = db ? openPostgresStore(db.url) : openSqliteStore(dataDir);
    await store.migrate();
    const nowS = Math.floor(Date.now() / 1000);
    const spreadS = spreadDays ? spreadDays * 86_400 - 120 : DAY_SPREAD_S;
    await seedBusyAddress(store, env, touches, BUSY_IP, nowS, spreadS);
    log(`  seeded ${touches} touches from one address over ${(spreadS / 86_400).toFixed(1)} days`);
    const ctx = { environment: () => env, newId, nowMs: Date.now() };
    const purchase = (k, ip, anonymous_id = `new-buyer-${k}`) => {
      const r = validateEvent(
        {
          event_name: 'Purchase',
          event_id: `busy-${k}`,
          user: { anonymous_id, ip, user_agent: BUYER_AGENT },
          properties: { value: 10, currency: 'EUR' },
        },
        { nowMs: Date.now(), source: 'server', envId: ENV_ID, newId: () => newId('gen_') },
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      r.event.consent = { ads: true, analytics: true, signals: [] };
      return r.event;
    };
    const t = { read: [], attribution: [], path: [], write: [] };
    let read = 0;
    let kept = 0;
    let pathBytes = 0;
    const warmup = Math.min(200, events);
    for (let k = -warmup; k < events; k++) {
      const a = arrive(purchase(`p${k}`, BUSY_IP), ctx);
      await store.ingest(async (tx) => {
        const checks = eventChecks(a.e, env, undefined, a.rawIp);
        let c0 = process.cpuUsage();
        const input = await decisionInput(tx, a.e, dests, checks);
        const found = await tx.findTouches(input.lookup);
        const r = cpuUs(c0);
        c0 = process.cpuUsage();
        const decided = await decideChecked(tx, a.e, dests, input, found, checks);
        const at = cpuUs(c0);
        c0 = process.cpuUsage();
        const rows = conversionRows(a.pk, a.e, dests, decided, ctx, a);
        const json = JSON.stringify(rows.path.touches);
        const p = cpuUs(c0);
        c0 = process.cpuUsage();
        await tx.recordConversion(rows.path, rows.conversions, rows.deliveries);
        const w = cpuUs(c0);
        if (k >= 0) {
          t.read.push(r);
          t.attribution.push(at);
          t.path.push(p);
          t.write.push(w);
          read = found.length;
          kept = rows.path.touches.length;
          pathBytes = json.length;
        }
      });
    }
    // Whole events, as the pipeline runs them, from the busy and from a quiet address, and
    // from the busy one by a browser with a touch of its own.
    const whole = async (ip, n, anon) => {
      const out = [];
      for (let k = 0; k < n; k++) {
        const e = purchase(`w-${ip}-${anon}-${k}`, ip, anon);
        const c0 = process.cpuUsage();
        await store.ingest((tx) => processBatch(tx, [e], { ...ctx, nowMs: Date.now() }));
        out.push(cpuUs(c0));
      }
      return median(out);
    };
    const quiet = await whole(QUIET_IP, events);
    const busy = await whole(BUSY_IP, events);
    const busyOwn = await whole(BUSY_IP, events, OWN_BUYER);
    await store.close();
    return {
      touches,
      events,
      read,
      kept,
      pathBytes,
      us: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])),
      wholeBusy: busy,
      wholeBusyOwn: busyOwn,
      wholeQuiet: quiet,
    };
  } finally {
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const EVENT_BODY = (ip, anonymous_id) =>
  JSON.stringify({
    events: [
      {
        event_name: 'Purchase',
        event_id: 'busy-[<id>]',
        user: { anonymous_id, ip, user_agent: BUYER_AGENT },
        properties: { value: 1, currency: 'EUR' },
      },
    ],
  });

export const BUSY_ROW = 'Purchase from a busy address';
export const BUSY_OWN_ROW = 'Purchase from a busy address, own touch';
export const QUIET_ROW = 'Purchase from a quiet address';

/**
 * Server CPU per request: pixeltrail on a store seeded with `touches` touches from BUSY_IP,
 * wrk posting Purchases from it and from a quiet address, each once per round. Resolves with
 * one row per address: medians over the rounds (req/s, server CPU µs per request, p50/p99).
 */
export async function busyAddressServer({
  wrk,
  touches,
  rounds,
  durationS,
  warmupS,
  connections,
  log,
  store: kind = 'sqlite',
  pgUrl = PG_ADMIN_URL,
}) {
  const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
  const { openPostgresStore } = await dist('store/postgres/open-postgres.js');
  const { loadConfig } = await dist('config/config-load.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-busy-server-'));
  const db =
    kind === 'postgres' ? await createBenchDatabase(pgUrl, `pixeltrail_busy_${process.pid}`) : null;
  // The destination's receiver, in this process: it answers 200 at once, as a healthy
  // platform does, so credited Purchases are delivered while the rows run. The lane sends
  // fewer than are credited, and the delivery claim's cost grows with the outbox's backlog
  // (bench/RESULTS.md, issue 22's ninth round): the rows carry that. Unreferenced: a failure
  // below still lets the bench exit.
  let attempts = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      attempts++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiver.unref();
  const webhookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
  const env = {
    PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: '10ms', webhookUrl }),
    PIXELTRAIL_DATA: path.join(dir, 'data'),
    // The store seeded below, whatever DATABASE_URL the shell has (startServer passes the
    // shell's environment on; spawn leaves undefined out).
    DATABASE_URL: db?.url,
  };
  const config = loadConfig(env);
  const store = db ? openPostgresStore(db.url) : openSqliteStore(env.PIXELTRAIL_DATA);
  await store.migrate();
  // Touches keep their times: the rounds must end within the day they are spread over.
  await seedBusyAddress(
    store,
    config.environments[0],
    touches,
    BUSY_IP,
    Math.floor(Date.now() / 1000),
  );
  await store.close();
  const server = await startServer('pixeltrail-busy', serveArgs(), env, dir);
  const targets = [
    [BUSY_ROW, BUSY_IP, 'new-buyer'],
    [BUSY_OWN_ROW, BUSY_IP, OWN_BUYER],
    [QUIET_ROW, QUIET_IP, 'new-buyer'],
  ];
  const runs = new Map(targets.map(([name]) => [name, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      log(`busy address, round ${round} of ${rounds}:`);
      for (const [name, ip, anon] of targets) {
        const spec = {
          base: server.base,
          path: '/v1/events',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
          body: EVENT_BODY(ip, anon),
          connections,
        };
        log(`  ${name}: ${durationS} s, ${connections} connections ...`);
        await wrkLoad(wrk, { ...spec, durationS: warmupS }, dir);
        const before = cpuSeconds(server.child.pid);
        const run = await wrkLoad(wrk, { ...spec, durationS }, dir);
        const after = cpuSeconds(server.child.pid);
        runs.get(name).push({ ...run, cpuUsPerReq: ((after - before) * 1e6) / run.requests });
      }
    }
  } finally {
    await stopServer(server);
    receiver.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return [...runs].map(([name, mine]) => {
    const byRps = [...mine].sort((a, b) => a.rps - b.rps);
    const mid = byRps[(byRps.length - 1) >> 1];
    return {
      name,
      touches: name === QUIET_ROW ? 0 : touches,
      rps: median(mine.map((r) => r.rps)),
      minRps: byRps[0].rps,
      maxRps: byRps.at(-1).rps,
      cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
      minCpu: Math.min(...mine.map((r) => r.cpuUsPerReq)),
      maxCpu: Math.max(...mine.map((r) => r.cpuUsPerReq)),
      p50: mid.p50,
      p99: mid.p99,
      non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
      // The receiver's count over the whole server run, the same on every row.
      attempts,
    };
  });
}

/** The section of RESULTS.md for `rows` (busyAddressServer), or nothing when it did not run. */
export function busyAddressLines(rows, opts) {
  if (!rows) return [];
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const busy = rows.find((r) => r.name === BUSY_ROW);
  const own = rows.find((r) => r.name === BUSY_OWN_ROW);
  const quiet = rows.find((r) => r.name === QUIET_ROW);
  return [
    '',
    `## ${BUSY_ROW} (${fmt(busy.touches)} touches in the last day)`,
    '',
    `pixeltrail on a store seeded with ${fmt(busy.touches)} touches (impressions, clicks, visits; ` +
      '20 user agents, a cookie every 3 touches) from one address inside the last day, as a ' +
      "carrier's NAT or an office carries; wrk posts `POST /v1/events` Purchases from that " +
      'address with a browser that has no touch of its own, with one that has an impression of ' +
      'its own half an hour old ("own touch"), and from a quiet address, each once ' +
      `per round, ${opts.rounds} round${opts.rounds > 1 ? 's' : ''} of ${opts.durationS} s, ` +
      `${opts.connections} connections ([busy-address.mjs](busy-address.mjs), which also times ` +
      'the phases in process). "server CPU µs/req": the server process, every thread, per request; ' +
      "the median round, and the rounds' range. The webhook destination's receiver (in the " +
      "bench's process) answers 200: credited Purchases are delivered while the rows run " +
      `(${fmt(busy.attempts)} deliveries in all).`,
    '',
    ...mdTable(
      [
        'address',
        'req/s',
        'slowest–fastest',
        'server CPU µs/req',
        'CPU range',
        'p50 ms',
        'p99 ms',
        'non-2xx',
      ],
      [false, true, true, true, true, true, true, true],
      rows.map((r) => [
        r.name,
        fmt(r.rps),
        `${fmt(r.minRps)}–${fmt(r.maxRps)}`,
        r.cpuUsPerReq.toFixed(1),
        `${fmt(r.minCpu)}–${fmt(r.maxCpu)}`,
        String(r.p50),
        String(r.p99),
        fmt(r.non2xx),
      ]),
    ),
    '',
    `The busy address costs ${(busy.cpuUsPerReq / quiet.cpuUsPerReq).toFixed(1)}× the quiet one's ` +
      `CPU per Purchase, ${(own.cpuUsPerReq / quiet.cpuUsPerReq).toFixed(1)}× by a browser with ` +
      'its own touch (issue 22: 16× in the first full run of the round, and 8.5× in the ' +
      "ninth round's first run, both with failed deliveries retried inside the rows; see " +
      '"A Purchase from a busy address" and the ninth round below).',
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: 'boolean', default: false },
      touches: { type: 'string', default: String(BUSY_TOUCHES) },
      events: { type: 'string', default: '2000' },
      'spread-days': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      store: { type: 'string', default: 'sqlite' },
      pg: { type: 'string', default: PG_ADMIN_URL },
    },
  });
  const log = (m) => process.stderr.write(`${m}\n`);
  const load = () =>
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`;
  if (!values.server) {
    const r = await busyAddressPhases({
      touches: Number(values.touches),
      events: Number(values.events),
      spreadDays: values['spread-days'] ? Number(values['spread-days']) : null,
      log,
      store: values.store,
      pgUrl: values.pg,
    });
    process.stdout.write(`${load()}\n${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const wrk = debianBinary(WRK, 'wrk', log);
  if (!wrk) throw new Error('wrk is needed (apt-get install wrk)');
  const rows = await busyAddressServer({
    wrk,
    touches: Number(values.touches),
    rounds: Number(values.rounds),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    connections: Number(values.connections),
    log,
    store: values.store,
    pgUrl: values.pg,
  });
  process.stdout.write(`${load()}\n`);
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(32)} ${Math.round(r.rps).toString().padStart(6)} req/s ` +
        `(${Math.round(r.minRps)}-${Math.round(r.maxRps)})  ${r.cpuUsPerReq.toFixed(1)} µs CPU/req ` +
        `(${r.minCpu.toFixed(0)}-${r.maxCpu.toFixed(0)})  p50 ${r.p50} p99 ${r.p99} ms  ` +
        `non2xx ${r.non2xx}\n`,
    );
  process.stdout.write(`deliveries in all rows: ${rows[0]?.attempts}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(2);
  });
