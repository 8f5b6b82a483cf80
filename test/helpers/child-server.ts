import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { sendAtOnce, waitFor } from './pixeltrail.js';

const CLI = path.resolve('dist/cli.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A `pixeltrail serve` process (built dist/cli.js) over a config file and data folder. */
export interface ChildServer {
  base: string;
  child: ChildProcess;
  output: () => string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export function writeConfig(dir: string, config: unknown): string {
  const file = path.join(dir, 'pixeltrail.json');
  writeFileSync(file, JSON.stringify(sendAtOnce(config)));
  return file;
}

export async function startChild(
  configFile: string,
  dataDir: string,
  port?: number,
  extraEnv: Record<string, string> = {},
  serveArgs: string[] = [],
  opts: { fdLimit?: number } = {},
): Promise<ChildServer> {
  const p = port ?? (await freePort());
  let out = '';
  const argv = [process.execPath, CLI, 'serve', ...serveArgs];
  // `ulimit -n` sets the soft and the hard limit: Node cannot raise it back at start.
  const [command, ...args] =
    opts.fdLimit === undefined
      ? argv
      : ['/bin/sh', '-c', `ulimit -n ${opts.fdLimit} && exec "$@"`, 'sh', ...argv];
  const child = spawn(command, args, {
    env: {
      ...process.env,
      PORT: String(p),
      HOST: '127.0.0.1',
      PIXELTRAIL_CONFIG: configFile,
      PIXELTRAIL_DATA: dataDir,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (out += c));
  const base = `http://127.0.0.1:${p}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
    100,
  );
  return {
    base,
    child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a pixeltrail CLI command to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
    });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}
