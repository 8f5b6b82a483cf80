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
import { floorDatabase, floorRecorder } from './floor-record.mjs';

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

async function freshDb(change) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-ingest-statements-'));
  const db = await floorDatabase(dir);
  if (change) db.exec(change);
  return { db, dir };
}

/** CPU µs per event of EVENTS events in transactions of TX, on a fresh store. */
async function run(change) {
  const { db, dir } = await freshDb(change);
  const store = floorRecorder(db, ENV_ID, DEST_ID);
  let n = 0;
  const record = (nowMs) => {
    const id = `o-${++n}`;
    const data = JSON.stringify({ env_id: ENV_ID, event_name: 'Purchase', event_id: id, n });
    const e = { name: 'Purchase', id, ip: '203.0.113.9', value: 25, currency: 'EUR', data };
    store(e, nowMs);
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
