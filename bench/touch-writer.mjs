// The SQLite touch writer thread's cost per touch, in process: a migrated store in a fresh
// folder, batches of impression touches like the bench's (a fresh imp_id and browser id
// each, one address, a browser User-Agent) written through `insertTouches` one batch at a
// time, as the pipeline does every flush. Prints the CPU time per touch of the writer thread
// and of the calling thread (serialisation, hand-over), from /proc, over several runs: no
// socket or HTTP server, so builds can be compared to a few tenths of a µs. After
// `npm run build`:
//
//   node bench/touch-writer.mjs [dist folder's parent, default .] [touches per run] [batch]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(process.argv[2] ?? '.');
const N = Number(process.argv[3] ?? 100_000);
const BATCH = Number(process.argv[4] ?? 200);
const RUNS = 5;
const dist = (f) => import(pathToFileURL(path.join(root, 'dist', f)).href);
const { openSqliteStore } = await dist('store/sqlite/open-sqlite.js');
const { newBrowserId, newId } = await dist('server.js');

/** CPU seconds of each thread of this process, by thread id (schedstat: nanoseconds). */
function threadCpu() {
  const out = new Map();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const ns = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0];
    out.set(tid, Number(ns) / 1e9);
  }
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'touch-writer-'));
const store = openSqliteStore(dir);
await store.migrate();
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const touch = () => ({
  env_id: 'env_b',
  kind: 'impression',
  touch_id: newId('IMP-'),
  dest_id: 'dsp1',
  campaign_id: 'c1',
  creative_id: null,
  placement_id: null,
  time: Math.floor(Date.now() / 1000),
  anonymous_id: newBrowserId(Date.now()),
  user_id: null,
  ip: 'h:AAAAAAAAAAAAAAAAAAAAAA',
  user_agent: UA,
});
// The thread starts on the first write.
await store.insertTouches([touch()]);
const self = String(process.pid);
const main = [];
const writer = [];
for (let run = 0; run < RUNS; run++) {
  const batches = [];
  for (let i = 0; i < N; i += BATCH) batches.push(Array.from({ length: BATCH }, touch));
  const before = threadCpu();
  for (const b of batches) await store.insertTouches(b);
  const after = threadCpu();
  const used = [...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)]);
  main.push((used.find(([tid]) => tid === self)[1] * 1e6) / N);
  const others = used.filter(([tid]) => tid !== self).map(([, s]) => s);
  writer.push((Math.max(...others) * 1e6) / N);
}
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
const fmt = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0].toFixed(2)} median ${s[Math.floor(s.length / 2)].toFixed(2)} µs/touch`;
};
// The calling thread's figure includes making the touches' batch arrays' hand-over only:
// the touches themselves are made before the clock starts.
process.stdout.write(`writer thread ${fmt(writer)}; calling thread ${fmt(main)}\n`);
