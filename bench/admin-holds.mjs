// How long the dashboard's and the operator's calls hold a SQLite server's event loop. A
// server on a store filled by `pixeltrail seed --demo` (--touches, and a tenth as many
// conversions) answers `GET /healthz` to a client that asks again 2 ms after each answer; each
// admin call runs alone, and "longest hold" is the slowest `/healthz` answer during it: the
// longest a pixel, event or delivery waited for the event loop. "idle" is the same client with
// no call running, the baseline of the same run.
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/admin-holds.mjs [--touches 300000]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADMIN_TOKEN, DEST_ID, ENV_ID, serveArgs, writeConfig } from './pixeltrail-server.mjs';
import { sleep, startServer, stopServer } from './servers.mjs';
import { mdTable } from './single-event.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ADMIN_TOUCHES = 300_000;
const PROBE_GAP_MS = 2;
const IMPORT_ROWS = 20_000;
const DAY_MS = 86_400_000;

/** The calls, in order (the audience's id comes from its creation). */
function calls(base, now) {
  const H = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const J = { ...H, 'content-type': 'application/json' };
  const iso = (ms) => new Date(ms).toISOString();
  const range = `from=${iso(now - 30 * DAY_MS)}&to=${iso(now)}`;
  const get = (p) => () => fetch(`${base}${p}`, { headers: H });
  const csv = [
    'order_id,time,value,currency,email',
    ...Array.from(
      { length: IMPORT_ROWS },
      (_, i) => `o${i},${Math.floor(now / 1000) - i},${i % 100},EUR,p${i}@example.com`,
    ),
  ].join('\n');
  let audience = null;
  return [
    ['GET /api/stats', get(`/api/stats?env_id=${ENV_ID}`)],
    [
      'GET /api/reports (30 days by campaign)',
      get(`/api/reports?env_id=${ENV_ID}&group_by=campaign`),
    ],
    [
      'GET /api/reports/attribution (30 days)',
      get(`/api/reports/attribution?env_id=${ENV_ID}&${range}`),
    ],
    [
      'GET /api/reports/attribution (30 days, every model, by campaign: the dashboard’s)',
      get(`/api/reports/attribution?env_id=${ENV_ID}&model=all&${range}`),
    ],
    ['GET /api/conversions (1,000)', get(`/api/conversions?env_id=${ENV_ID}&limit=1000`)],
    ['GET /api/touches (1,000)', get(`/api/touches?env_id=${ENV_ID}&limit=1000`)],
    [
      'POST /api/audiences (buyers, 30 days)',
      async () => {
        const r = await fetch(`${base}/api/audiences`, {
          method: 'POST',
          headers: J,
          body: JSON.stringify({
            env_id: ENV_ID,
            name: 'Buyers',
            rules: { all: [{ event: 'Purchase', within: '30d' }] },
          }),
        });
        audience = (await r.clone().json()).id;
        return r;
      },
    ],
    ['GET /api/audiences/:id/export.csv', () => get(`/api/audiences/${audience}/export.csv`)()],
    [
      `POST /api/imports (${IMPORT_ROWS.toLocaleString('en-US')} rows)`,
      () =>
        fetch(`${base}/api/imports?env_id=${ENV_ID}`, {
          method: 'POST',
          headers: { ...H, 'content-type': 'text/csv' },
          body: csv,
        }),
    ],
    ['GET /api/subjects/export', get(`/api/subjects/export?env_id=${ENV_ID}&email=p1@example.com`)],
    [
      'DELETE /api/subjects',
      () =>
        fetch(`${base}/api/subjects?env_id=${ENV_ID}&email=p1@example.com`, {
          method: 'DELETE',
          headers: H,
        }),
    ],
    [
      'POST /api/replay (40 days)',
      () =>
        fetch(`${base}/api/replay`, {
          method: 'POST',
          headers: J,
          body: JSON.stringify({
            env_id: ENV_ID,
            dest_id: DEST_ID,
            from: iso(now - 40 * DAY_MS),
            to: iso(now),
          }),
        }),
    ],
  ];
}

/** A client asking for /healthz again and again; `take()` answers the slowest since the last. */
function probe(base) {
  let slowest = 0;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const t = performance.now();
      try {
        await (await fetch(`${base}/healthz`)).arrayBuffer();
      } catch {
        // The server stopping.
      }
      slowest = Math.max(slowest, performance.now() - t);
      await sleep(PROBE_GAP_MS);
    }
  })();
  return {
    take: () => {
      const s = slowest;
      slowest = 0;
      return s;
    },
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

export async function adminHolds({ touches, log = () => {} }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-admin-'));
  const env = {
    PIXELTRAIL_CONFIG: writeConfig(dir, { flushInterval: '10ms' }),
    PIXELTRAIL_DATA: path.join(dir, 'data'),
    DATABASE_URL: undefined,
  };
  const conversions = Math.round(touches / 10);
  try {
    const t0 = Date.now();
    execFileSync(
      process.execPath,
      [
        'dist/cli.js',
        'seed',
        '--demo',
        '--env',
        ENV_ID,
        '--touches',
        String(touches),
        '--conversions',
        String(conversions),
      ],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' },
    );
    log(
      `  admin calls: seeded ${touches} touches, ${conversions} conversions in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    const server = await startServer('pixeltrail-admin', serveArgs(), env, dir);
    const p = probe(server.base);
    const rows = [];
    try {
      await sleep(1_000);
      p.take();
      await sleep(1_000);
      rows.push({ name: 'idle (no call)', status: '–', ms: null, hold: p.take() });
      for (const [name, call] of calls(server.base, Date.now())) {
        p.take();
        const t = performance.now();
        const r = await call();
        await r.arrayBuffer();
        const ms = performance.now() - t;
        // Answers the server gave right after the call's own.
        await sleep(50);
        rows.push({ name, status: String(r.status), ms, hold: p.take() });
        log(
          `  ${name}: ${r.status} in ${ms.toFixed(0)} ms, longest hold ${rows.at(-1).hold.toFixed(1)} ms`,
        );
      }
    } finally {
      await p.stop();
      await stopServer(server);
    }
    return { touches, conversions, rows };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function adminHoldsLines(result) {
  if (!result) return [];
  const { touches, conversions, rows } = result;
  const idle = rows[0].hold;
  return [
    '',
    '## Admin calls beside the server (SQLite)',
    '',
    `A server on a store of ${touches.toLocaleString('en-US')} touches and ${conversions.toLocaleString('en-US')} conversions (\`pixeltrail seed --demo\`, 30 days); a client asks for \`/healthz\` again ${PROBE_GAP_MS} ms after each answer while each call runs alone ([admin-holds.mjs](admin-holds.mjs)). "longest hold" is its slowest answer during the call: the longest any pixel, event or delivery waited for the event loop. The first row is the same client with no call running.`,
    '',
    ...mdTable(
      ['call', 'status', 'call ms', 'longest hold ms', '÷ idle'],
      [false, true, true, true, true],
      rows.map((r) => [
        r.name,
        r.status,
        r.ms === null ? '–' : r.ms.toFixed(0),
        r.hold.toFixed(1),
        (r.hold / idle).toFixed(1),
      ]),
    ),
  ];
}

async function main() {
  const { values } = parseArgs({
    options: { touches: { type: 'string', default: String(ADMIN_TOUCHES) } },
  });
  const result = await adminHolds({
    touches: Number(values.touches),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${adminHoldsLines(result).join('\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
