// The load generator, run by run.mjs as its own process: one autocannon run described by a
// JSON argument, answered with one JSON line on stdout. It also reports its own CPU use, so
// run.mjs can tell when the generator rather than the server set the pace.
//
// node bench/load.mjs '{"url":"http://127.0.0.1:PORT/i?...","connections":64,"amount":20000,
//   "headers":{},"idReplacement":false,"method":"GET","bodyPath":null,"timeout":10}'
import fs from 'node:fs';
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
if (new URL(spec.url).hostname !== '127.0.0.1') throw new Error('load goes to 127.0.0.1 only');

const cpuBefore = process.cpuUsage();
const started = process.hrtime.bigint();
let lastResponse = started;
const r = await new Promise((resolve, reject) => {
  const run = autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationS }),
      method: spec.method ?? 'GET',
      headers: spec.headers ?? {},
      body: spec.bodyPath ? fs.readFileSync(spec.bodyPath) : undefined,
      idReplacement: spec.idReplacement ?? false,
      timeout: spec.timeout ?? 10,
    },
    (err, result) => (err ? reject(err) : resolve(result)),
  );
  // autocannon notices the end of an `amount` run only at its next 1 s tick, so its own
  // duration is rounded up to whole seconds; the time of the last answer is exact.
  run.on('response', () => {
    lastResponse = process.hrtime.bigint();
  });
});
const cpu = process.cpuUsage(cpuBefore);
const durationS = Number(lastResponse - started) / 1e9;

process.stdout.write(
  `${JSON.stringify({
    requests: r.requests.total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    durationS,
    p50: r.latency.p50,
    p99: r.latency.p99,
    // Share of one core the generator used; near 1 means it, not the server, was the limit.
    cpuShare: (cpu.user + cpu.system) / 1e6 / durationS,
  })}\n`,
);
