// The bench's child processes: servers started as `node <args>` and waited for on /healthz,
// stopped with SIGTERM, and their CPU time and memory read from /proc. Shared by run.mjs and
// single-event.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const STARTUP_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
// USER_HZ of /proc/<pid>/stat: 100 on every Linux build that matters here.
const CLOCK_TICKS_PER_S = 100;
const STOP_TIMEOUT_MS = 10_000;

/** Every child still running, killed by the caller on a signal or an error. */
export const children = new Set();

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** `--pin-servers`: the cores every measured server runs on (all but the generator's). */
let serverCores = null;

/** Pins every server started from now on to `cores` (a taskset list), or unpins with null. */
export function pinServers(cores) {
  serverCores = cores;
}

/** `cmd args`, under `taskset -c <serverCores>` when servers are pinned (taskset execs it: same pid). */
export function pinned(cmd, args) {
  return serverCores ? ['taskset', ['-c', serverCores, cmd, ...args]] : [cmd, args];
}

/** Starts `node <args>` with its output in `<dir>/<name>.log`; resolves once /healthz is 200. */
export async function startServer(name, args, env, dir) {
  const port = await freePort();
  const logPath = path.join(dir, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const child = spawn(...pinned(process.execPath, args), {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  children.add(child);
  child.on('exit', () => children.delete(child));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && !exited(child)) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { name, child, base };
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_MS);
  }
  const tail = fs.readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(`${name} did not become healthy at ${base}/healthz; log tail:\n${tail}`);
}

export async function stopServer(server) {
  if (exited(server.child)) return;
  const exit = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exit;
  clearTimeout(timer);
}

/** Resident memory of a process and its children, MiB (Linux /proc). */
export function rssMiB(pid) {
  const one = (p) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  let kids = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    // No children.
  }
  return one(pid) + kids.reduce((n, k) => n + one(k), 0);
}

/** user + system CPU seconds in a /proc `stat` file (a process's or a thread's); null if none. */
function statCpuSeconds(file) {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const f = fs.readFileSync(file, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

/** CPU seconds one thread of a process has used so far (its main thread: `tid` = `pid`). */
export function threadCpuSeconds(pid, tid) {
  return statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
}

/**
 * CPU seconds (user + system, every thread) used so far by a process and its children
 * (`serve --workers`), from /proc: unlike req/s, CPU per request hardly moves when other
 * work shares the machine. Null where /proc is missing.
 */
export function cpuSeconds(pid) {
  const one = (p) => statCpuSeconds(`/proc/${p}/stat`);
  const own = one(pid);
  if (own === null) return null;
  let kids = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
  } catch {
    // No children.
  }
  return kids.filter(Boolean).reduce((n, k) => n + (one(k) ?? 0), own);
}
