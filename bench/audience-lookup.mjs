// Audience membership lookup latency: `GET /api/audiences/:id/members?anonymous_id=…`, the
// call an ad server makes per bid to retarget in real time (issue 9 asks p99 < 5 ms).
//
// Usage (after `npm run build`): node bench/audience-lookup.mjs [--persons 20000]
//   [--lookups 5000] [--store postgres]
// Starts `dist/cli.js serve` over a temporary data folder (or a fresh PostgreSQL database),
// loads --persons people through /v1/events (half of them add to cart, half also buy, so
// half are members), then times --lookups sequential keep-alive lookups of random people
// (members, non-members and unknown ids) over 127.0.0.1 and prints p50/p90/p99/max.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '20000' },
    lookups: { type: 'string', default: '5000' },
    store: { type: 'string', default: 'sqlite' },
  },
});
const PERSONS = Number(values.persons);
const LOOKUPS = Number(values.lookups);
const ADMIN = { authorization: 'Bearer adm_bench', 'content-type': 'application/json' };

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(fn, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-aud-bench-'));
const configFile = path.join(dir, 'config.json');
fs.writeFileSync(
  configFile,
  JSON.stringify({
    admin_token: 'adm_bench',
    log_level: 'error',
    environments: [{ id: 'env_b', name: 'Bench', write_key: 'wk_bench', destinations: [] }],
  }),
);
let pgDb = null;
const extraEnv = {};
if (values.store === 'postgres') {
  const adminUrl = process.env.PIXELTRAIL_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `pixeltrail_audbench_${process.pid}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  extraEnv.DATABASE_URL = url.toString();
  pgDb = { adminUrl, name };
}
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'serve'], {
  env: {
    ...process.env,
    ...extraEnv,
    PORT: String(port),
    HOST: '127.0.0.1',
    PIXELTRAIL_CONFIG: configFile,
    PIXELTRAIL_DATA: dir,
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});

try {
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok);
  const created = await (
    await fetch(`${base}/api/audiences`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({
        env_id: 'env_b',
        name: 'Cart abandoners',
        rules: {
          all: [{ event: 'AddToCart', within: '7d' }],
          none: [{ event: 'Purchase', within: '7d' }],
        },
      }),
    })
  ).json();
  const id = created.id;
  const loadStart = Date.now();
  for (let i = 0; i < PERSONS; i += 500) {
    const events = [];
    for (let p = i; p < Math.min(PERSONS, i + 500); p++) {
      const user = { anonymous_id: `anon-${p}` };
      events.push({ event_name: 'AddToCart', event_id: `c-${p}`, user });
      if (p % 2 === 1)
        events.push({
          event_name: 'Purchase',
          event_id: `p-${p}`,
          user,
          properties: { value: 1, currency: 'EUR' },
        });
    }
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { authorization: 'Bearer wk_bench', 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    if (!res.ok) throw new Error(`events: ${res.status} ${await res.text()}`);
  }
  const expected = Math.ceil(PERSONS / 2);
  await waitFor(async () => {
    const a = await (await fetch(`${base}/api/audiences/${id}`, { headers: ADMIN })).json();
    return a.size === expected;
  }, 600_000);
  const loadS = (Date.now() - loadStart) / 1000;

  // Warm-up, then the measured loop: one request at a time, as a bidder asks per impression,
  // over one pooled keep-alive connection (node:http; fetch's own overhead per request is
  // several times the server's and would be measured instead).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (url) =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent, headers: { authorization: ADMIN.authorization } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(body)),
          );
        })
        .on('error', reject);
    });
  const ask = async (i) => {
    const who = i % 10 === 0 ? `unknown-${i}` : `anon-${Math.floor(Math.random() * PERSONS)}`;
    const t = performance.now();
    await get(`${base}/api/audiences/${id}/members?anonymous_id=${who}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 500; i++) await ask(i);
  const times = [];
  for (let i = 0; i < LOOKUPS; i++) times.push(await ask(i));
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  const lines = [
    `audience lookup bench (${values.store}, ${PERSONS} persons, ${expected} members, ${LOOKUPS} sequential lookups over 127.0.0.1)`,
    `  load + incremental membership: ${loadS.toFixed(1)} s`,
    `  latency ms: p50 ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  max ${times[times.length - 1].toFixed(2)}`,
    `  machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  if (pgDb) {
    const c = new pg.Client({ connectionString: pgDb.adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${pgDb.name} WITH (FORCE)`);
    await c.end();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
