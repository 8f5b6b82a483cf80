// What every bench run tells pixeltrail and asks it: the config it is started with (one
// environment, a write key, a webhook destination that never leaves the box) and the stored
// counts read back from `GET /api/stats`. Shared by run.mjs and single-event.mjs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const POLL_MS = 100;
// A stored count is final once it has not moved for this long (many flush intervals).
const SETTLED_AFTER_MS = 1_000;
const SETTLE_TIMEOUT_MS = 30_000;

/**
 * The node flags pixeltrail runs with: those of `npm start` (package.json), so that the bench
 * measures the server as it is started. The baselines (bare node:http, the floors) run with
 * Node's defaults. The script must read `node [--flag=value ...] dist/cli.js serve`: any
 * other shape is refused here rather than read wrong.
 */
export const PIXELTRAIL_NODE_FLAGS = startFlags(
  JSON.parse(fs.readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'))
    .scripts.start,
);

function startFlags(script) {
  const m = /^node((?: --[^\s=]+(?:=\S+)?)*) dist\/cli\.js serve$/.exec(script);
  if (!m)
    throw new Error(
      `package.json's start script is not \`node [--flags] dist/cli.js serve\`: ${script}`,
    );
  return m[1].split(' ').filter(Boolean);
}

/** A `node` command line's arguments that run `pixeltrail serve` (from the checkout's root). */
export function serveArgs(...more) {
  return [...PIXELTRAIL_NODE_FLAGS, 'dist/cli.js', 'serve', ...more];
}

export const ENV_ID = 'env_b';
export const DEST_ID = 'dsp1';
export const ADMIN_TOKEN = 'adm_bench';
export const WRITE_KEY = 'wk_bench';
// A real browser's User-Agent: pixeltrail drops bot hits without storing them.
export const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/126.0.0.0 Safari/537.36';

/**
 * Writes the bench's config. `opts.webhookUrl`: a receiver on 127.0.0.1 for the webhook
 * destination; without one it names port 9 on loopback, where nothing listens: a delivery
 * fails and backs off, never leaving the box.
 */
export function writeConfig(dir, opts) {
  const configPath = path.join(dir, 'config.json');
  const env = {
    id: ENV_ID,
    name: 'Bench',
    write_key: WRITE_KEY,
    allowed_origins: ['*'],
    click_url_hosts: ['127.0.0.1'],
    destinations: [
      {
        id: DEST_ID,
        type: 'webhook',
        url: opts.webhookUrl ?? 'http://127.0.0.1:9/hook',
        events: ['Purchase'],
      },
    ],
  };
  const config = {
    admin_token: ADMIN_TOKEN,
    flush_interval: opts.flushInterval,
    log_level: 'warn',
    // All load comes from one loopback address: per-IP limits would measure the limiter.
    rate_limit: { per_ip: 0, per_key: 0 },
    environments: [env],
  };
  fs.writeFileSync(configPath, JSON.stringify(config));
  return configPath;
}

export async function stats(base) {
  const res = await fetch(`${base}/api/stats?env_id=${ENV_ID}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET /api/stats answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/**
 * Reads `pick(stats)` until it reaches `expected` or stops moving: the pixel answers before
 * its write, so the last hits are committed up to one flush interval after the last answer.
 */
export async function settledCount(base, pick, expected = Number.POSITIVE_INFINITY) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = pick(await stats(base));
  let since = Date.now();
  // Short of an expected count, hits are still queued (a busy box can hold a commit for
  // seconds): wait for them up to the deadline, not only until the count stops moving.
  const short = () => Number.isFinite(expected) && last < expected;
  while (
    last !== expected &&
    (short() || Date.now() - since < SETTLED_AFTER_MS) &&
    Date.now() < deadline
  ) {
    await sleep(POLL_MS);
    const now = pick(await stats(base));
    if (now !== last) since = Date.now();
    last = now;
  }
  return last;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
