// One event per request, as Segment's and Snowplow's server libraries, most backends and the
// tag's beacons send them: pixeltrail's `POST /v1/events`, Segment's `/v1/track` and
// Snowplow's `tp2`, each answered after its commit, against a bare node:http server that
// reads and parses the same POST and answers the same JSON (bare-gif-server.mjs), and against
// the floor of durable recording: the same server plus the event's rows committed in
// pixeltrail's schema before the answer, nothing else (floor-post-server.mjs). wrk drives
// every target (one thread pinned to the last core, a fresh event id per request), in rounds
// (each target once per round, bare and floor started for their run and stopped after), so a
// ratio compares runs a few seconds apart. Server CPU per request is read from /proc.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/single-event.mjs [--rounds 3] [--duration 5] [--connections 64]
//                               [--flush-interval 10ms] [--profile] [--thread-floor]
// (--profile: pixeltrail runs under `node --cpu-prof`, and the CPU time of its /v1/events
// requests is broken down by function; figures include the profiler's overhead.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { debianBinary } from './debian-binary.mjs';
import {
  ENV_ID,
  serveArgs,
  settledCount,
  stats,
  WRITE_KEY,
  writeConfig,
} from './pixeltrail-server.mjs';
import { children, cpuSeconds, startServer, stopServer } from './servers.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);

export const SINGLE_BARE = 'bare node:http POST';
export const SINGLE_FLOOR = 'floor: node:http POST + SQLite';
export const SINGLE_EVENTS = 'pixeltrail POST /v1/events';
export const SINGLE_THREAD_FLOOR = 'floor, recording on a thread';

const json = { 'content-type': 'application/json' };
const bearer = { authorization: `Bearer ${WRITE_KEY}` };
const basic = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
/** The event every request carries; `[<id>]` is made fresh per request by wrk's script. */
export const EVENTS_BODY = JSON.stringify({
  events: [
    {
      event_name: 'Purchase',
      event_id: 'one-[<id>]',
      user: { ip: '203.0.113.9', user_agent: 'Mozilla/5.0' },
      properties: { value: 1, currency: 'EUR' },
    },
  ],
});
const SEGMENT_BODY = JSON.stringify({
  type: 'track',
  event: 'Order Completed',
  messageId: 'seg-[<id>]',
  anonymousId: 'anon-1',
  context: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0' },
  properties: { revenue: 1, currency: 'EUR' },
});
/**
 * The tag's beacon: one Purchase as t.js sends it (sendBeacon, text/plain, the page's Origin),
 * from a browser that has its anonymous id. `/e` answers after its commit, as the APIs do; the
 * page never waits for it (sendBeacon), so its p50 is the server's, not a page's.
 */
const BEACON_BODY = JSON.stringify({
  events: [
    {
      env_id: ENV_ID,
      event_name: 'Purchase',
      event_id: 'tag-[<id>]',
      user: { anonymous_id: 'a1b2c3d4-e5f6-4789-9abc-def012345678' },
      properties: { value: 49.9, currency: 'EUR', url: 'https://shop.example/checkout/done' },
    },
  ],
});
const beacon = {
  'content-type': 'text/plain;charset=UTF-8',
  origin: 'https://shop.example',
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};
const SNOWPLOW_BODY = JSON.stringify({
  schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
  data: [{ e: 'pv', aid: ENV_ID, p: 'srv', eid: 'sp-[<id>]', tv: 'node-3.0.0', uid: 'u1' }],
});

/** The targets of a round, in the order each round runs them. */
function targets(profile, profiled = SINGLE_EVENTS, threadFloor = false) {
  const pt = (name, p, headers, body) => ({ name, path: p, headers, body, pixeltrail: true });
  const own = (name, script) => ({
    name,
    path: '/v1/events',
    headers: json,
    body: EVENTS_BODY,
    script,
  });
  const list = [
    own(SINGLE_BARE, 'bare-gif-server.mjs'),
    own(SINGLE_FLOOR, 'floor-post-server.mjs'),
    ...(threadFloor ? [own(SINGLE_THREAD_FLOOR, 'floor-post-thread-server.mjs')] : []),
    pt(SINGLE_EVENTS, '/v1/events', { ...json, ...bearer }, EVENTS_BODY),
    pt('pixeltrail Segment /v1/track', '/v1/track', { ...json, ...basic }, SEGMENT_BODY),
    pt('pixeltrail Snowplow tp2', '/com.snowplowanalytics.snowplow/tp2', json, SNOWPLOW_BODY),
    pt('pixeltrail tag beacon /e', '/e', beacon, BEACON_BODY),
  ];
  if (!profile) return list;
  const chosen = list.filter((t) => t.pixeltrail && t.name.endsWith(profiled));
  if (chosen.length === 0)
    throw new Error(
      `--profile-target ${profiled} names no target: ${list
        .filter((t) => t.pixeltrail)
        .map((t) => t.name)
        .join(', ')}`,
    );
  return chosen;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Events of the bench environment stored so far (new and duplicates), once settled. */
const storedEvents = (base) => settledCount(base, (s) => s.events + s.duplicates);

/** One wrk run (warm-up, then measured) against one target; the server's CPU per request. */
async function runTarget(target, server, opts) {
  const spec = {
    base: server.base,
    path: target.path,
    method: 'POST',
    headers: target.headers,
    body: target.body,
    connections: opts.connections,
  };
  await wrkLoad(opts.wrk, { ...spec, durationS: opts.warmupS }, opts.dir);
  const before = target.pixeltrail ? await storedEvents(server.base) : 0;
  const cpuBefore = cpuSeconds(server.child.pid);
  const run = await wrkLoad(opts.wrk, { ...spec, durationS: opts.durationS }, opts.dir);
  const cpuAfter = cpuSeconds(server.child.pid);
  const cpuUsPerReq =
    cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1e6) / run.requests;
  const r = { ...run, cpuUsPerReq };
  if (!target.pixeltrail) return r;
  // Answered after the commit: every 2xx is stored; a request cut off when wrk stopped may
  // still have committed, so stored lies between the 2xx answered and the requests sent.
  return { ...r, stored: (await storedEvents(server.base)) - before };
}

/**
 * `opts.rounds` rounds over the targets against the running pixeltrail (`pixeltrail`, a
 * started server); the bare server is started for each of its runs. Resolves with one row
 * per target: medians over the rounds (req/s, server CPU µs per request, p50/p99 of the
 * median run) and each target's ratio to the bare server, the median of per-round ratios.
 */
export async function singleEventBench(pixeltrail, opts) {
  const list = targets(opts.profile, opts.profileTarget, opts.threadFloor);
  const runs = new Map(list.map((t) => [t.name, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    opts.log(`one event per request, round ${round} of ${opts.rounds}:`);
    for (const t of list) {
      const server = t.pixeltrail
        ? pixeltrail
        : await startServer(
            path.basename(t.script, '.mjs'),
            [path.join(BENCH_DIR, t.script)],
            {},
            opts.dir,
          );
      try {
        opts.log(`  ${t.name}: ${opts.durationS} s, ${opts.connections} connections ...`);
        runs.get(t.name).push(await runTarget(t, server, opts));
      } finally {
        if (!t.pixeltrail) await stopServer(server);
      }
    }
  }
  // Each run against the same round's run of `base`: the median of those ratios.
  const ratioTo = (mine, base) =>
    base.length > 0 ? median(mine.map((r, i) => r.rps / (base[i]?.rps ?? Number.NaN))) : null;
  const bare = runs.get(SINGLE_BARE) ?? [];
  const floor = runs.get(SINGLE_FLOOR) ?? [];
  return list.map((t) => {
    const mine = runs.get(t.name);
    const byRps = [...mine].sort((a, b) => a.rps - b.rps);
    const mid = byRps[(byRps.length - 1) >> 1];
    const held = mine.every(
      (r) => r.stored === undefined || (r.ok <= r.stored && r.stored <= r.sent),
    );
    return {
      name: t.name,
      rounds: mine.length,
      rps: median(mine.map((r) => r.rps)),
      minRps: byRps[0].rps,
      maxRps: byRps.at(-1).rps,
      p50: mid.p50,
      p99: mid.p99,
      non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
      errors: mine.reduce((n, r) => n + r.errors, 0),
      cpuUsPerReq: mine.some((r) => r.cpuUsPerReq === null)
        ? null
        : median(mine.map((r) => r.cpuUsPerReq)),
      genShare: median(mine.map((r) => r.cpuShare)),
      ratioBare: ratioTo(mine, bare),
      ratioFloor: t.pixeltrail ? ratioTo(mine, floor) : null,
      held: t.pixeltrail ? held : null,
    };
  });
}

/** A Markdown table as `biome format` leaves it; `right` marks numeric columns. */
export function mdTable(header, right, rows) {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const cell = (text, i) => (right[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)];
}

/** The section of RESULTS.md for `rows` (singleEventBench), or nothing when it did not run. */
export function singleEventLines(rows, opts) {
  if (!rows) return [];
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const events = rows.find((r) => r.name === SINGLE_EVENTS);
  const floor = rows.find((r) => r.name === SINGLE_FLOOR);
  const ratio = (x) => (x === null ? '–' : x.toFixed(2));
  return [
    '',
    '## One event per request: `POST /v1/events`, Segment, Snowplow vs bare `node:http` and its floor',
    '',
    `${opts.connections} keep-alive connections, wrk (one thread pinned to the last core), a fresh ` +
      'event id in every body; each target once per round, ' +
      `${opts.rounds} round${opts.rounds > 1 ? 's' : ''} of ${opts.durationS} s after a warm-up. ` +
      'pixeltrail (a server of its own, started with an empty store) answers each request ' +
      "after its event's commit (adaptive group commit: a " +
      'batch starts as soon as none is in flight). The bare server reads the same body, parses ' +
      'it and answers the same JSON, storing nothing. The floor ([floor-post-server.mjs](floor-post-server.mjs)) ' +
      'is the bare server plus durable recording alone: per event the dedup key claim, the touch ' +
      "lookup by IP, the event, conversion and path rows, in pixeltrail's schema and SQL, " +
      'committed with the same adaptive group commit on one thread before the answer. A row is ' +
      'the median round (p50/p99 of the median run by req/s); "÷ bare" and "÷ floor" are the ' +
      'medians of the ratios within a round; "server CPU µs/req" is the CPU time of the server ' +
      'process, every thread, per request.',
    '',
    ...mdTable(
      [
        'target',
        'req/s',
        'slowest–fastest',
        'server CPU µs/req',
        'p50 ms',
        'p99 ms',
        '÷ bare',
        '÷ floor',
        'non-2xx',
        'errors',
        'gen CPU',
        'stored',
      ],
      [false, true, true, true, true, true, true, true, true, true, true, false],
      rows.map((r) => [
        r.name,
        fmt(r.rps),
        `${fmt(r.minRps)}–${fmt(r.maxRps)}`,
        r.cpuUsPerReq === null ? '–' : r.cpuUsPerReq.toFixed(1),
        String(r.p50),
        String(r.p99),
        ratio(r.ratioBare),
        ratio(r.ratioFloor),
        fmt(r.non2xx),
        fmt(r.errors),
        `${Math.round(100 * r.genShare)}%`,
        r.held === null ? '' : r.held ? 'HELD' : '**MISMATCH**',
      ]),
    ),
    '',
    `Goals (issue 22): \`/v1/events\` ≥ 0.40 of bare, p50 ≤ 5 ms, ≤ 80 µs of server CPU per ` +
      `request${events ? `; this run: ${events.ratioBare?.toFixed(2)}, ${events.p50} ms, ${events.cpuUsPerReq?.toFixed(1)} µs` : ''}. ` +
      '"stored": every 2xx stored, nothing stored that was not sent.' +
      (floor
        ? ` The floor itself: ${ratio(floor.ratioBare)} of bare at ${floor.cpuUsPerReq?.toFixed(1)} µs` +
          `${events ? `; \`/v1/events\` ${ratio(events.ratioFloor)} of it` : ''}.`
        : ''),
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      'flush-interval': { type: 'string', default: '10ms' },
      profile: { type: 'boolean', default: false },
      // With --profile: the pixeltrail target profiled, by the end of its name ('/e', 'tp2').
      'profile-target': { type: 'string', default: SINGLE_EVENTS },
      // Also the floor with its recording on a worker thread (floor-post-thread-server.mjs).
      'thread-floor': { type: 'boolean', default: false },
    },
  });
  const log = (m) => process.stderr.write(`${m}\n`);
  const wrk = debianBinary(WRK, 'wrk', log);
  if (!wrk) throw new Error('wrk is needed (apt-get install wrk)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-single-'));
  const profileDir = path.join(dir, 'profile');
  const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const opts = {
    wrk,
    dir,
    log,
    rounds: Number(values.rounds),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    connections: Number(values.connections),
    profile: values.profile,
    profileTarget: values['profile-target'],
    threadFloor: values['thread-floor'],
  };
  const env = {
    PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: values['flush-interval'] }),
    PIXELTRAIL_DATA: path.join(dir, 'data'),
  };
  const pixeltrail = await startServer('pixeltrail', [...prof, ...serveArgs()], env, dir);
  // Every request (warm-up included, as in the profile) stored one event.
  let stored = 0;
  try {
    const rows = await singleEventBench(pixeltrail, opts);
    process.stdout.write(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r.name.padEnd(32)} ${Math.round(r.rps).toString().padStart(7)} req/s ` +
          `(${Math.round(r.minRps)}-${Math.round(r.maxRps)})  ${r.cpuUsPerReq?.toFixed(1)} µs CPU/req  ` +
          `p50 ${r.p50} p99 ${r.p99} ms${r.ratioBare == null ? '' : `  ÷bare ${r.ratioBare.toFixed(2)}`}` +
          `${r.ratioFloor == null ? '' : `  ÷floor ${r.ratioFloor.toFixed(2)}`}  non2xx ${r.non2xx}  ` +
          `gen ${Math.round(100 * r.genShare)}%${r.held === false ? '  STORED MISMATCH' : ''}\n`,
      );
    stored = (await stats(pixeltrail.base)).events;
    process.stdout.write(`events stored: ${stored}\n`);
  } finally {
    await stopServer(pixeltrail);
    for (const c of children) c.kill('SIGKILL');
  }
  if (values.profile) {
    const { summarizeProfile } = await import('./cpu-profile-summary.mjs');
    const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    process.stdout.write(`${summarizeProfile(path.join(profileDir, file), ROOT, stored)}\n`);
    log(`kept ${dir}`);
  } else fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(2);
  });
