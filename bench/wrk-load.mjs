// The pixel runs' load generator when Debian's wrk is on the machine: wrk, one thread, pinned
// to the last core (taskset), so the generator neither migrates between cores nor takes more
// than one of them. wrk is C: it costs about a third of autocannon's CPU per request, so
// against the bare baselines the server, not the generator, sets the pace.
//
// A Lua script reports wrk's summary as one JSON line; for a pixeltrail path or POST body
// (`[<id>]` in it) it also makes each request's id fresh and counts the requests sent, so the stored
// count can be checked between the 200s answered and the requests sent.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childOutput } from './child-output.mjs';

export const WRK = '/usr/bin/wrk';

const luaString = (s) => JSON.stringify(s); // a JSON string of printable ASCII is a Lua string

/**
 * The script: headers, a fresh id per request where the path has `[<id>]` (a run tag and a
 * counter, 29 characters, as long as autocannon's), and a `done` that prints the summary.
 */
function script(spec, runTag) {
  const headers = Object.entries(spec.headers ?? {})
    .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
    .join('\n');
  const method = spec.method ?? 'GET';
  const body = spec.body ?? null;
  const fixed = `wrk.method = ${luaString(method)}
wrk.path = ${luaString(spec.path)}${body === null ? '' : `\nwrk.body = ${luaString(body)}`}`;
  // The id goes in the body when it has `[<id>]` (a POST), else in the path.
  const inBody = body?.includes('[<id>]') ?? false;
  const template = inBody ? body : spec.path;
  const at = template.indexOf('[<id>]');
  const id = `string.format("%s%020d", ${luaString(runTag)}, sent)`;
  const dynamic =
    at < 0
      ? fixed
      : `${fixed}
local before, after = ${luaString(template.slice(0, at))}, ${luaString(template.slice(at + 6))}
sent = 0
request = function()
  sent = sent + 1
  ${
    inBody
      ? `return wrk.format(${luaString(method)}, ${luaString(spec.path)}, nil, before .. ${id} .. after)`
      : `return wrk.format(nil, before .. ${id} .. after)`
  }
end`;
  return `${headers}
${dynamic}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local sentAll = 0
  for _, t in ipairs(threads) do sentAll = sentAll + (t:get("sent") or 0) end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"non2xx":%d,"errors":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"sent":%d,"maxUs":%d}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), sentAll, latency.max))
end
`;
}

/**
 * One wrk run of `spec.durationS` seconds against `spec.base + spec.path`; resolves with the
 * same fields as load.mjs (requests, ok, non2xx, errors, durationS, p50, p99 in ms, cpuShare),
 * the slowest answer (`max`, ms)
 * and `sent` (requests written, for a path with `[<id>]`).
 */
export async function wrkLoad(bin, spec, dir) {
  if (new URL(spec.base).hostname !== '127.0.0.1') throw new Error('load goes to 127.0.0.1 only');
  const runTag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`.slice(-9);
  const lua = path.join(dir, `wrk-${runTag}.lua`);
  fs.writeFileSync(lua, script(spec, runTag));
  const cores = os.cpus().length;
  const wrkArgs = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '-s', lua];
  const pinned = cores > 1 ? `taskset -c ${cores - 1} ` : '';
  // `times` prints the shell's and then its children's CPU time: wrk's own cost.
  const cmd = `${pinned}${bin} ${wrkArgs.join(' ')} ${spec.base}/ && times`;
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, out, err } = await childOutput(child);
  fs.rmSync(lua, { force: true });
  const lines = out.trim().split('\n');
  const json = lines.find((l) => l.startsWith('{"requests"'));
  if (code !== 0 || !json) throw new Error(`wrk failed (exit ${code}): ${err || out}`);
  const r = JSON.parse(json);
  const durationS = r.durationUs / 1e6;
  const secs = (t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  };
  const [user, sys] = (lines.at(-1) ?? '').trim().split(/\s+/);
  return {
    requests: r.requests,
    ok: r.requests - r.non2xx,
    non2xx: r.non2xx,
    errors: r.errors,
    durationS,
    p50: Math.round(r.p50Us / 100) / 10,
    p99: Math.round(r.p99Us / 100) / 10,
    max: Math.round(r.maxUs / 100) / 10,
    cpuShare: (secs(user) + secs(sys)) / durationS,
    sent: spec.path.includes('[<id>]') || spec.body?.includes('[<id>]') ? r.sent : null,
    rps: r.requests / durationS,
  };
}
