// The SQLite statements pixeltrail writes for one conversion event, in process: the dedup
// key claim, the touch lookup by IP, the event, one conversion row and its path (as
// floor-post-server.mjs records them, with pixeltrail's SQL text from dist/), committed in
// transactions of `--tx` events. For comparing schemas, not builds: each variant is a fresh
// store migrated by dist/'s migrations, then changed by the variant's SQL (`--variant
// NAME=SQL`, SQL run once after migrating; `--variant latest=` changes nothing). Variants
// run alternately, `--runs` times each; prints the minimum and median CPU µs per event of
// each (process.cpuUsage, user + system: the commits' fsyncs count).
//
//   node bench/ingest-statements.mjs --events 20000 --tx 16 --runs 7 \
//     --variant latest= --variant by-event='create index conversions_by_event on conversions (event_pk)'
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import {
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  ipLookupParams,
  PATH_COLUMNS,
  PATH_CONFLICT,
} from '../dist/store/kysely/ingest-columns.js';
import {
  CLAIM_DEDUP_UPSERT,
  INSERT_EVENT,
  TOUCHES_BY_IP,
} from '../dist/store/kysely/ingest-sql.js';
import { insertText } from '../dist/store/kysely/ingest-statements.js';
import { openSqliteStore, SQLITE_FILE } from '../dist/store/sqlite/open-sqlite.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    tx: { type: 'string', default: '16' },
    runs: { type: 'string', default: '7' },
    variant: { type: 'string', multiple: true, default: ['latest='] },
  },
});
const EVENTS = Number(values.events);
const TX = Number(values.tx);
const RUNS = Number(values.runs);
const variants = values.variant.map((v) => {
  const at = v.indexOf('=');
  return { name: v.slice(0, at), sql: v.slice(at + 1) };
});
const ENV_ID = 'env_bench';
const DEST_ID = 'dest_bench';
const DEDUP_WINDOW_S = 48 * 3600;
const LOOKBACK_S = 7 * 24 * 3600;
const IP_REACH_S = 24 * 3600;

async function freshDb(change) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-ingest-statements-'));
  const store = openSqliteStore(dir);
  await store.migrate();
  await store.close();
  const db = new Database(path.join(dir, SQLITE_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('secure_delete = ON');
  if (change) db.exec(change);
  return { db, dir };
}

/** CPU µs per event of EVENTS events in transactions of TX, on a fresh store. */
async function run(change) {
  const { db, dir } = await freshDb(change);
  const claim = db.prepare(CLAIM_DEDUP_UPSERT);
  const touches = db.prepare(TOUCHES_BY_IP);
  const insertEvent = db.prepare(INSERT_EVENT);
  const putConversion = db.prepare(
    `${insertText('conversions', CONVERSION_COLUMNS)} ${CONVERSION_CONFLICT}`,
  );
  const putPath = db.prepare(`${insertText('conversion_paths', PATH_COLUMNS)} ${PATH_CONFLICT}`);
  const prefix = Date.now().toString(36);
  let n = 0;
  const record = (nowMs) => {
    const nowS = Math.floor(nowMs / 1000);
    const suffix = `${prefix}.${(++n).toString(36).padStart(22, '0')}`;
    const pk = `ev_${suffix}`;
    const id = `o-${n}`;
    claim.run(ENV_ID, 'Purchase', id, pk, nowS, pk, nowS, nowS - DEDUP_WINDOW_S);
    // As pixeltrail reads an address: the probabilistic windows' reach (1 d by default).
    touches.all(ipLookupParams(ENV_ID, nowS - LOOKBACK_S, nowS - IP_REACH_S, '203.0.113.9'));
    const data = JSON.stringify({ env_id: ENV_ID, event_name: 'Purchase', event_id: id, n });
    insertEvent.run(
      pk,
      ENV_ID,
      'Purchase',
      id,
      nowS,
      nowMs,
      'server',
      null,
      null,
      25,
      'EUR',
      data,
      0,
      null,
      0,
    );
    const cv = `cv_${suffix}`;
    putConversion.run(
      cv,
      DEST_ID,
      ENV_ID,
      pk,
      'Purchase',
      id,
      nowS,
      25,
      'EUR',
      0,
      null,
      'no touch of this person for this destination',
      nowMs,
      null,
      null,
      null,
      0,
      null,
      1,
      null,
      null,
    );
    putPath.run(ENV_ID, cv, pk, 'Purchase', nowS, 25, 'EUR', LOOKBACK_S, '[]', nowMs);
  };
  const commit = db.transaction((k, nowMs) => {
    for (let i = 0; i < k; i++) record(nowMs);
  });
  const start = process.cpuUsage();
  for (let done = 0; done < EVENTS; done += TX) commit(Math.min(TX, EVENTS - done), Date.now());
  const used = process.cpuUsage(start);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return (used.user + used.system) / EVENTS;
}

const results = new Map(variants.map((v) => [v.name, []]));
for (let r = 0; r < RUNS; r++)
  for (const v of r % 2 ? [...variants].reverse() : variants)
    results.get(v.name).push(await run(v.sql));
console.log(
  `${EVENTS} events in transactions of ${TX}, ${RUNS} runs each, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const [name, us] of results) {
  const s = [...us].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(12)} min ${s[0].toFixed(1)} µs  median ${s[Math.floor(s.length / 2)].toFixed(1)} µs  (${us.map((u) => u.toFixed(1)).join(', ')})`,
  );
}
