// The hourly retention purge on SQLite, and how long it holds the event loop. A store seeded as
// a shop taking about a million events a day looks an hour after a purge: touches past their 90
// days, events past their 400, dedup keys past their 48 hours. Each run takes a copy of the same
// seed in a child process of its own, which counts the event loop's turns while the purge runs:
//   - "4cf1044's purge": the purge as it was before issue 22's twelfth round (touches in
//     batches, events and dedup keys one DELETE each, the WAL truncated on the event loop):
//     the baseline, measured in the same run;
//   - "pixeltrail": the store's own purge (src/store/kysely/maintenance.ts).
// Each purges twice: the expired rows, then again with nothing left to delete (the usual hour).
// "longest hold" is the longest time between two turns of the event loop: no pixel, event or
// delivery is answered meanwhile. CPU is the child's, every thread.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/purge-stall.mjs [--events 500000] [--dedup-keys 1000000] [--touches 200000]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { migratedSqlite } from './bench-database.mjs';
import { childOutput } from './child-output.mjs';
import { mdTable } from './single-event.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const HERE = fileURLToPath(import.meta.url);
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist', p)).href);

export const PURGE_EVENTS = 500_000;
const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;
/** Share of each table past its retention: an hour's worth after a stop of a few hours. */
const EXPIRED_SHARE = 0.1;
const ENVS = ['shop', 'brand', 'demo'];
const ROWS = { before: "4cf1044's purge (before)", store: 'pixeltrail purge' };

function cutoffs(nowMs) {
  const nowS = Math.floor(nowMs / 1000);
  return {
    touches_before_s: nowS - 90 * DAY_S,
    events_before_ms: nowMs - 400 * DAY_MS,
    dedup_before_s: nowS - 2 * DAY_S,
  };
}

/**
 * A migrated store with `events` events, `dedupKeys` keys and `touches` touches, each table's
 * rows written in the order they arrived: the expired ones first.
 */
async function seed(dataDir, { events, dedupKeys, touches, nowMs }) {
  const db = await migratedSqlite(dataDir);
  const c = cutoffs(nowMs);
  const nowS = Math.floor(nowMs / 1000);
  const key = db.prepare('insert into dedup_keys values (?, ?, ?, ?, ?)');
  const event = db.prepare(
    `insert into events (pk, env_id, event_name, event_id, event_time, received_at_ms, source,
       anonymous_id, data) values (?, ?, 'PageView', ?, ?, ?, 'server', ?, ?)`,
  );
  const touch = db.prepare(
    `insert into touches (env_id, kind, touch_id, time, anonymous_id, ip, user_agent)
     values (?, 'impression', ?, ?, ?, ?, 'Mozilla/5.0')`,
  );
  const data = JSON.stringify({
    event_name: 'PageView',
    properties: { url: 'https://shop.example/p/1' },
  });
  db.transaction(() => {
    for (let i = 0; i < dedupKeys; i++) {
      const old = i < dedupKeys * EXPIRED_SHARE;
      // Event ids in no order, as they arrive.
      const id = `${((i * 2654435761) % 4294967296).toString(36)}-${i}`;
      key.run(ENVS[i % 3], 'Purchase', id, `pk${i}`, old ? c.dedup_before_s - 60 : nowS - 3600);
    }
    for (let i = 0; i < events; i++) {
      const old = i < events * EXPIRED_SHARE;
      const at = old ? c.events_before_ms - 60_000 + i : nowMs - DAY_MS + i;
      event.run(`ev${i}`, ENVS[i % 3], `e${i}`, Math.floor(at / 1000), at, `a${i}`, data);
    }
    for (let i = 0; i < touches; i++) {
      const old = i < touches * EXPIRED_SHARE;
      const at = old ? c.touches_before_s - 60 - touches + i : nowS - 3600 - touches + i;
      touch.run(ENVS[i % 3], `t${i}`, at, `a${i}`, `h${i % 5000}`);
    }
  })();
  db.close();
}

/** Counts the event loop's turns while `work` runs: the longest time between two. */
async function holds(work) {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const gaps = [];
  const tick = () => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  running = false;
  gaps.push(performance.now() - last);
  for (const g of gaps) longest = Math.max(longest, g);
  const used = process.cpuUsage(cpu);
  // The three longest, with the turn each ended: where in the purge they were.
  const top = gaps
    .map((g, i) => [Math.round(g * 10) / 10, i])
    .sort((a, b) => b[0] - a[0])
    .slice(0, 3);
  return {
    value,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    longestMs: longest,
    top,
    turns: gaps.length,
  };
}

/**
 * In the child: the purge as it was at 4cf1044 (issue 22's eleventh round): expired touches
 * 1,000 at a time with a turn between, events and dedup keys one DELETE each, the WAL
 * truncated on the event loop.
 */
async function before(dataDir, c) {
  const { SQLITE_FILE } = await dist('store/sqlite/open-sqlite.js');
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dataDir, SQLITE_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('secure_delete = ON');
  db.pragma('wal_autocheckpoint = 50000');
  const turn = () => new Promise((r) => setImmediate(r));
  const touchBatch = db.prepare(
    'delete from touches where id in (select id from touches where time < ? limit 1000)',
  );
  const purge = async () => {
    let rows = 0;
    for (;;) {
      const n = touchBatch.run(c.touches_before_s).changes;
      rows += n;
      if (n < 1000) break;
      await turn();
    }
    // Kysely awaited each statement: microtasks, no turn between them.
    for (const [sql, arg] of [
      ['delete from events where received_at_ms < ?', c.events_before_ms],
      ['delete from dedup_keys where first_seen < ?', c.dedup_before_s],
    ])
      rows += db.prepare(sql).run(arg).changes;
    db.pragma('wal_checkpoint(TRUNCATE)');
    return rows;
  };
  const first = await holds(purge);
  const again = await holds(purge);
  db.close();
  return { first, again };
}

/** In the child: the store's own purge. */
async function storePurge(dataDir, c) {
  const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
  const store = openSqliteStore(dataDir);
  // A running server has read the schema long before its purge: so does this one.
  await store.ping();
  const rows = async () => {
    const r = await store.purge(c);
    return r.touches + r.events + r.dedup_keys;
  };
  const first = await holds(rows);
  const again = await holds(rows);
  await store.close();
  return { first, again };
}

async function child(mode, dataDir, nowMs) {
  const c = cutoffs(nowMs);
  const r = mode === 'before' ? await before(dataDir, c) : await storePurge(dataDir, c);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

/** Seeds once, then purges a copy of the seed in a child per row. */
export async function purgeStall({ events, dedupKeys, touches, log = () => {} }) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-purge-'));
  const nowMs = Date.now();
  try {
    const seedDir = path.join(base, 'seed');
    const t0 = Date.now();
    await seed(seedDir, { events, dedupKeys, touches, nowMs });
    log(
      `  purge: seeded ${events} events, ${dedupKeys} dedup keys, ${touches} touches in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    const rows = [];
    for (const mode of ['before', 'store']) {
      const dir = path.join(base, mode);
      fs.cpSync(seedDir, dir, { recursive: true });
      // The copy's dirty pages written out first: Linux throttles a process that writes while
      // many are pending, which put 100 ms on the first batch of whichever purge ran next.
      execFileSync('sync');
      const proc = spawn(
        process.execPath,
        [HERE, '--child', mode, '--dir', dir, '--now', String(nowMs)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const { code, out, err } = await childOutput(proc);
      if (code !== 0) throw new Error(`purge bench child (${mode}) failed: ${err}`);
      const r = JSON.parse(out.trim().split('\n').at(-1));
      rows.push({ name: ROWS[mode], ...r });
      log(
        `  ${ROWS[mode]}: ${r.first.value} rows, ${r.first.wallMs.toFixed(0)} ms, longest hold ${r.first.longestMs.toFixed(1)} ms (top ${JSON.stringify(r.first.top)} of ${r.first.turns} turns); again ${r.again.longestMs.toFixed(1)} ms`,
      );
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

export function purgeLines(rows, { events, dedupKeys, touches }) {
  if (!rows) return [];
  const was = rows.find((r) => r.name === ROWS.before);
  const now = rows.find((r) => r.name === ROWS.store);
  const n = (x) => x.toLocaleString('en-US');
  return [
    '',
    '## The hourly purge (SQLite)',
    '',
    `A store of ${n(events)} events, ${n(dedupKeys)} dedup keys and ${n(touches)} touches, a tenth of each past its retention (90 days for touches, 400 for events, 48 hours for dedup keys); each row purges a copy of it in a process of its own, then purges again with nothing left to delete, the usual hour ([purge-stall.mjs](purge-stall.mjs)). "longest hold" is the longest time between two turns of that process's event loop: on a server, no pixel, event or delivery is answered meanwhile. "4cf1044's purge" is the purge before issue 22's twelfth round (touches 1,000 at a time, events and dedup keys one DELETE each, the WAL truncated on the event loop), run in the same way as the baseline. CPU: the process, every thread.`,
    '',
    ...mdTable(
      [
        'purge',
        'rows deleted',
        'wall ms',
        'CPU ms',
        'longest hold ms',
        'nothing to delete: wall ms',
        'longest hold ms ',
      ],
      [false, true, true, true, true, true, true],
      rows.map((r) => [
        r.name,
        n(r.first.value),
        r.first.wallMs.toFixed(0),
        r.first.cpuMs.toFixed(0),
        r.first.longestMs.toFixed(1),
        r.again.wallMs.toFixed(0),
        r.again.longestMs.toFixed(1),
      ]),
    ),
    '',
    `The longest hold: ${(now.first.longestMs / was.first.longestMs).toFixed(3)} of 4cf1044's when rows expire, ${(now.again.longestMs / was.again.longestMs).toFixed(3)} when none does.`,
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      dir: { type: 'string' },
      now: { type: 'string' },
      events: { type: 'string', default: String(PURGE_EVENTS) },
      'dedup-keys': { type: 'string' },
      touches: { type: 'string' },
    },
  });
  if (values.child) return child(values.child, values.dir, Number(values.now));
  const events = Number(values.events);
  const opts = {
    events,
    dedupKeys: Number(values['dedup-keys'] ?? events * 2),
    touches: Number(values.touches ?? Math.round(events * 0.4)),
  };
  const rows = await purgeStall({ ...opts, log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${purgeLines(rows, opts).join('\n')}\n`);
}

if (process.argv[1] === HERE) await main();
