// Server CPU per pixel hit, builds side by side: the floor (floor-gif-server.mjs, indexed)
// and one or more pixeltrail builds, each started fresh for its run, in rounds that
// alternate them, under wrk (64 connections, a fresh imp_id per hit). Prints, per run, the
// CPU of the whole process per answered hit and of each of its threads (main, the touch
// writer, the rest), from /proc, its RSS after the run, and the load average. Stored counts
// are not checked here (run.mjs does): this is for comparing builds while changing them
// (bench/RESULTS.md, issue 22).
//
//   node bench/pixel-rounds.mjs [--rounds 3] [--duration 8] [--bare] [--no-floor]
//                               [--variant NAME=DIST[,ENV=VALUE|,--node-flag]...]...
//
// DIST is a folder holding a build's cli.js (dist by default; copy dist aside to keep a
// build); the floor runs in every round unless --no-floor, bare node:http too with --bare.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PIXELTRAIL_NODE_FLAGS, USER_AGENT, writeConfig } from './pixeltrail-server.mjs';
import { children, rssMiB, startServer, stopServer } from './servers.mjs';
import { WRK, wrkLoad } from './wrk-load.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    variant: { type: 'string', multiple: true, default: ['pixeltrail=dist'] },
    'no-floor': { type: 'boolean', default: false },
    bare: { type: 'boolean', default: false },
  },
});
const CLOCK_TICKS_PER_S = 100;
const PATH = '/i?env_id=env_b&dest_id=dsp1&campaign_id=c1&imp_id=IMP-[<id>]';
const BENCH_DIR = path.dirname(new URL(import.meta.url).pathname);

function threads(pid) {
  const out = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(tid, {
        s: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S,
        sys: Number(f[12]) / CLOCK_TICKS_PER_S,
      });
    } catch {
      // Thread gone.
    }
  }
  return out;
}

const variants = values.variant.map((v) => {
  const [head, ...envs] = v.split(',');
  const [name, dist] = head.split('=');
  const nodeArgs = envs.filter((e) => e.startsWith('--'));
  const vars = envs.filter((e) => !e.startsWith('--'));
  return {
    name,
    dist,
    nodeArgs,
    env: Object.fromEntries(
      vars.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    ),
  };
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixel-rounds-'));
const targets = [
  ...(values['no-floor']
    ? []
    : [
        { name: 'floor', args: [path.join(BENCH_DIR, 'floor-gif-server.mjs'), 'indexed'], env: {} },
      ]),
  ...(values.bare
    ? [{ name: 'bare', args: [path.join(BENCH_DIR, 'bare-gif-server.mjs')], env: {} }]
    : []),
  ...variants.map((v) => ({
    name: v.name,
    // As `npm start` runs it, then the variant's own flags, which win.
    args: [...PIXELTRAIL_NODE_FLAGS, ...v.nodeArgs, path.join(v.dist, 'cli.js'), 'serve'],
    env: v.env,
  })),
];
const results = new Map(targets.map((t) => [t.name, []]));
const rounds = Number(values.rounds);
process.on('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
for (let round = 0; round < rounds; round++) {
  // Alternate the order each round so no build always follows the same one.
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  for (const t of order) {
    const runDir = fs.mkdtempSync(path.join(dir, `${t.name}-`));
    const env = {
      PIXELTRAIL_CONFIG: writeConfig(runDir, { flushInterval: '10ms' }),
      PIXELTRAIL_DATA: path.join(runDir, 'data'),
      ...t.env,
    };
    const server = await startServer(t.name, t.args, env, runDir);
    const spec = {
      base: server.base,
      path: PATH,
      connections: 64,
      headers: { 'user-agent': USER_AGENT },
    };
    await wrkLoad(WRK, { ...spec, durationS: Number(values.warmup) }, runDir);
    const pid = server.child.pid;
    const before = threads(pid);
    const run = await wrkLoad(WRK, { ...spec, durationS: Number(values.duration) }, runDir);
    const after = threads(pid);
    const rss = Math.round(rssMiB(pid));
    const load = os.loadavg()[0];
    await stopServer(server);
    const per = (s) => (s * 1e6) / run.requests;
    // Every thread is named `node`: the main thread is the pid, the touch writer the busiest
    // of the others (V8's GC helpers and libuv's pool take the rest).
    let total = 0;
    const others = [];
    const by = {};
    for (const [tid, a] of after) {
      const d = a.s - (before.get(tid)?.s ?? 0);
      total += d;
      if (tid === String(pid)) {
        by.main = d;
        by.mainSys = a.sys - (before.get(tid)?.sys ?? 0);
      } else others.push(d);
    }
    others.sort((a, b) => b - a);
    by.top = others[0] ?? 0;
    by.rest = others.slice(1).reduce((n, d) => n + d, 0);
    const r = {
      round,
      rps: Math.round(run.rps),
      us: per(total),
      threads: Object.fromEntries(
        Object.entries(by).map(([k, s]) => [k, Math.round(per(s) * 10) / 10]),
      ),
      load: Math.round(load * 10) / 10,
      p99: run.p99,
      requests: run.requests,
      rss,
    };
    results.get(t.name).push(r);
    process.stderr.write(`${t.name} r${round}: ${JSON.stringify(r)}\n`);
  }
}
fs.rmSync(dir, { recursive: true, force: true });
const floor = results.get('floor');
for (const [name, runs] of results) {
  const us = runs.map((r) => r.us);
  const ratio = floor ? runs.map((r, i) => floor[i].us / r.us) : [];
  process.stdout.write(
    `${name.padEnd(16)} µs/hit ${Math.min(...us).toFixed(1)}-${Math.max(...us).toFixed(1)}` +
      `  [${us.map((u) => u.toFixed(1)).join(' ')}]` +
      (floor && name !== 'floor' ? `  floor÷it ${ratio.map((x) => x.toFixed(2)).join(' ')}` : '') +
      ` main ${runs.map((r) => r.threads.main).join(' ')} (sys ${runs.map((r) => r.threads.mainSys).join(' ')}) top ${runs.map((r) => r.threads.top).join(' ')}` +
      `  RSS MiB ${runs.map((r) => r.rss).join(' ')}  load ${runs.map((r) => r.load).join(' ')}\n`,
  );
}
