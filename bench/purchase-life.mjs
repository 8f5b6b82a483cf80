// A Purchase's life after its request, in server CPU: recorded (with a hashed e-mail, as a
// Conversions API call carries), merged with its second copy (the tag's and the server's,
// the setup the platforms recommend), and delivered to a webhook receiver on 127.0.0.1. The
// baseline of the delivery, measured in the same run: a bare node:http client in a process
// of its own sending the same number of POSTs of the same size to the same receiver, with a
// keep-alive agent and as many at once: what sending costs Node before any of pixeltrail's
// work. The second copy's baseline is the first copy's cost in the same round.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/purchase-life.mjs [--purchases 10000] [--rounds 2]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ADMIN_TOKEN,
  DEST_ID,
  ENV_ID,
  serveArgs,
  WRITE_KEY,
  writeConfig,
} from './pixeltrail-server.mjs';
import { cpuSeconds, exited, sleep, startServer, stopServer } from './servers.mjs';
import { mdTable } from './single-event.mjs';

export const LIFE_PURCHASES = 10_000;
const BATCH = 20;
const CONCURRENCY = 8;
const DELIVERY_TIMEOUT_MS = 180_000;
const WARM_UP = 200;

/** One Purchase; the second copy adds a phone and a browser id, as the tag's copy would. */
function purchase(i, second) {
  return {
    event_name: 'Purchase',
    event_id: `life-${i}`,
    user: {
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36',
      email: `buyer${i}@example.com`,
      ...(second
        ? { anonymous_id: `anon-${i}`, phone: `+33612${String(i).padStart(6, '0')}` }
        : {}),
    },
    properties: { value: 10 + (i % 90), currency: 'EUR' },
  };
}

async function postAll(base, n, second, from = 0) {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const start = next;
        next += BATCH;
        if (start >= n) return;
        const events = [];
        for (let i = start; i < Math.min(n, start + BATCH); i++)
          events.push(purchase(from + i, second));
        const r = await fetch(`${base}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ env_id: ENV_ID, events }),
        });
        if (r.status !== 200) failed++;
        await r.arrayBuffer();
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} batches of Purchases were refused`);
}

const admin = (base, p) =>
  fetch(`${base}${p}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

/** The bare client: `n` POSTs of `bytes` each to `url`, CONCURRENCY at once, then exits. */
const BARE_CLIENT = `
const http = require('node:http');
const [url, n, bytes, concurrency] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true });
const body = JSON.stringify({ pad: 'x'.repeat(Math.max(0, Number(bytes) - 10)) });
let next = 0;
const one = () => new Promise((resolve, reject) => {
  const out = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  out.on('error', reject);
  out.on('response', (res) => { res.resume(); res.on('end', resolve); });
  out.end(body);
});
const lane = async () => { while (next++ < Number(n)) await one(); };
// Waits for the parent's go (stdin), so start-up is not measured.
process.stdin.once('data', () => Promise.all(Array.from({ length: Number(concurrency) }, lane)).then(() => process.stdout.write('done\\n')));
`;

async function bareClient(url, n, bytes) {
  const child = spawn(
    process.execPath,
    ['-e', BARE_CLIENT, url, String(n), String(bytes), String(CONCURRENCY)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await sleep(300);
  const c0 = cpuSeconds(child.pid);
  const done = new Promise((resolve) => child.stdout.once('data', resolve));
  child.stdin.write('go\n');
  await done;
  const cpu = cpuSeconds(child.pid) - c0;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end();
  if (!exited(child)) await gone;
  return cpu;
}

export async function purchaseLife({ purchases = LIFE_PURCHASES, rounds = 2, log = () => {} }) {
  let received = 0;
  let bodyBytes = 0;
  const receiver = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
    });
    req.on('end', () => {
      received++;
      bodyBytes += size;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const out = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-life-'));
      const configPath = writeConfig(dir, { flushInterval: '10ms', webhookUrl: url });
      // Every Purchase is delivered, credited or not: the bench has no touches.
      const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
      config.environments[0].destinations[0].attributed_only = false;
      fs.writeFileSync(configPath, JSON.stringify(config));
      const env = {
        PIXELTRAIL_CONFIG: configPath,
        PIXELTRAIL_DATA: path.join(dir, 'data'),
        DATABASE_URL: undefined,
      };
      const server = await startServer('pixeltrail-life', serveArgs(), env, dir);
      try {
        const pid = server.child.pid;
        // Held while both copies come in: each phase's CPU is its own.
        const paused = await admin(server.base, `/api/destinations/${ENV_ID}/${DEST_ID}/pause`);
        if (!paused.ok) throw new Error(`pausing the destination answered ${paused.status}`);
        await postAll(server.base, WARM_UP, false, purchases); // warm-up, ids of its own
        const c0 = cpuSeconds(pid);
        await postAll(server.base, purchases, false);
        const c1 = cpuSeconds(pid);
        await postAll(server.base, purchases, true);
        const c2 = cpuSeconds(pid);
        received = 0;
        bodyBytes = 0;
        const resumed = await admin(server.base, `/api/destinations/${ENV_ID}/${DEST_ID}/resume`);
        if (!resumed.ok) throw new Error(`resuming the destination answered ${resumed.status}`);
        const t = performance.now();
        const total = purchases + WARM_UP;
        while (received < total && performance.now() - t < DELIVERY_TIMEOUT_MS) await sleep(20);
        const deliverMs = performance.now() - t;
        const c3 = cpuSeconds(pid);
        if (received < total) throw new Error(`${received} of ${total} deliveries arrived`);
        const bare = await bareClient(url, total, Math.round(bodyBytes / Math.max(1, received)));
        const row = {
          round,
          record: ((c1 - c0) * 1e6) / purchases,
          second: ((c2 - c1) * 1e6) / purchases,
          deliver: ((c3 - c2) * 1e6) / total,
          deliverMs,
          perSecond: total / (deliverMs / 1000),
          bare: (bare * 1e6) / total,
          bytes: Math.round(bodyBytes / Math.max(1, received)),
        };
        out.push(row);
        log(
          `  round ${round}: record ${row.record.toFixed(1)} µs, second copy ${row.second.toFixed(1)} µs, delivery ${row.deliver.toFixed(1)} µs (bare client ${row.bare.toFixed(1)} µs), ${total} delivered in ${deliverMs.toFixed(0)} ms`,
        );
      } finally {
        await stopServer(server);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    receiver.close();
  }
  return { purchases, rounds: out };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

export function purchaseLifeLines(result) {
  if (!result) return [];
  const { purchases, rounds } = result;
  const f = (x) => x.toFixed(1);
  const range = (k) =>
    `${f(Math.min(...rounds.map((r) => r[k])))}–${f(Math.max(...rounds.map((r) => r[k])))}`;
  const ratio = (k, base) => median(rounds.map((r) => r[k] / r[base])).toFixed(2);
  return [
    '',
    "## A Purchase's life: recorded, merged with its second copy, delivered (SQLite)",
    '',
    `One server per round (${rounds.length} rounds), its webhook destination paused while ${purchases.toLocaleString('en-US')} Purchases with a hashed e-mail come in (\`POST /v1/events\`, batches of ${BATCH}, ${CONCURRENCY} at once), then their second copies (a phone and a browser id added: each is merged into the stored copy, its conversion attributed again), then resumed until a receiver on 127.0.0.1 has every delivery ([purchase-life.mjs](purchase-life.mjs)). "server CPU µs" is the server process's CPU (every thread) per Purchase in each phase, the median round and the rounds' range; the delivery's baseline is a bare node:http client (keep-alive agent, ${CONCURRENCY} at once) sending as many POSTs of the same size (${rounds[0]?.bytes ?? 0} bytes) to the same receiver, its own CPU per request.`,
    '',
    ...mdTable(
      ['phase', 'server CPU µs', 'range', 'baseline µs', '÷ baseline'],
      [false, true, true, true, true],
      [
        [
          'recorded (first copy)',
          f(median(rounds.map((r) => r.record))),
          range('record'),
          '–',
          '–',
        ],
        [
          'merged (second copy)',
          f(median(rounds.map((r) => r.second))),
          range('second'),
          f(median(rounds.map((r) => r.record))),
          ratio('second', 'record'),
        ],
        [
          'delivered (webhook)',
          f(median(rounds.map((r) => r.deliver))),
          range('deliver'),
          f(median(rounds.map((r) => r.bare))),
          ratio('deliver', 'bare'),
        ],
      ],
    ),
    '',
    `Deliveries: ${rounds.map((r) => `${Math.round(r.perSecond).toLocaleString('en-US')}/s`).join(', ')} (all of a round's after the destination was resumed).`,
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { purchases: { type: 'string' }, rounds: { type: 'string' } },
  });
  const result = await purchaseLife({
    purchases: Number(values.purchases ?? LIFE_PURCHASES),
    rounds: Number(values.rounds ?? 2),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stdout.write(`${purchaseLifeLines(result).join('\n')}\n`);
}
