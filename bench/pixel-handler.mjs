// The impression pixel's own JavaScript, in process: `impressionPixel` on the bench's query
// (a fresh imp_id per hit, a browser User-Agent, no cookie), each batch of 100 touches
// protected and serialised as the writer does. Prints CPU time per hit, the minimum and the
// median of 7 runs; no server, no socket, so it resolves changes of a tenth of a µs that a
// wrk run on a shared box cannot. After `npm run build`:
//
//   node bench/pixel-handler.mjs [dist folder's parent, default .] [hits per run] [address]
//
// Run two builds alternately to compare them (bench/RESULTS.md, issue 22 goal 2).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'fast-querystring';

const root = path.resolve(process.argv[2] ?? '.');
const N = Number(process.argv[3] ?? 200_000);
const ADDRESS = process.argv[4] ?? '::ffff:127.0.0.1';
const RUNS = 7;
const dist = (f) => import(pathToFileURL(path.join(root, 'dist', f)).href);
const { impressionPixel } = await dist('http/collect/pixel-hit.js');
const { Metrics } = await dist('http/metrics.js');
const { parseConfig } = await dist('config/config-parse.js');
const { newBrowserId, newId } = await dist('server.js');
const { protectTouch } = await dist('ingest/ingest-privacy.js');

const { config, errors } = parseConfig(
  {
    admin_token: 'adm_bench',
    environments: [
      {
        id: 'env_b',
        name: 'B',
        write_key: 'wk_bench',
        allowed_origins: ['*'],
        destinations: [{ id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      },
    ],
  },
  {},
);
if (errors.length > 0) throw new Error(JSON.stringify(errors));
const env = config.environments[0];
let queued = [];
const hit = impressionPixel({
  config,
  metrics: new Metrics(),
  environment: (id) => (id === env.id ? env : undefined),
  nowMs: Date.now,
  newId,
  newBrowserId: () => newBrowserId(Date.now()),
  pipeline: {
    recordTouch: (t) => {
      queued.push(t);
      return true;
    },
  },
});
const headers = {
  host: '127.0.0.1:8080',
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};
const queries = Array.from(
  { length: 1000 },
  (_, i) => `env_id=env_b&dest_id=dsp1&campaign_id=c1&imp_id=IMP-${String(i).padStart(29, '0')}`,
);

function run(n) {
  for (let i = 0; i < n; i++) {
    hit(parse(queries[i % queries.length]), {
      headers,
      ip: ADDRESS,
      hostname: '127.0.0.1',
      protocol: 'http',
    });
    if (queued.length >= 100) {
      const rows = queued.map((t) => protectTouch(t, env));
      queued = [];
      JSON.stringify(rows);
    }
  }
}

run(N);
const us = [];
for (let r = 0; r < RUNS; r++) {
  const t0 = process.cpuUsage();
  run(N);
  const d = process.cpuUsage(t0);
  us.push((d.user + d.system) / N);
}
us.sort((a, b) => a - b);
process.stdout.write(
  `${root}: ${us[0].toFixed(3)} µs/hit (min of ${RUNS}), median ${us[RUNS >> 1].toFixed(3)}\n`,
);
