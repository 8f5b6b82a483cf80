/**
 * A real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode in front of the test
 * PostgreSQL. Debian 12's is 1.18, which keeps no prepared statements across server
 * connections: the pooler that `?pgbouncer=true` is for. Tests skip with a message when it
 * is not installed (`apt-get install pgbouncer`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './child-server.js';
import { tempDir, waitFor } from './pixeltrail.js';

export const PGBOUNCER_PATH = '/usr/sbin/pgbouncer';
export const HAS_PGBOUNCER = existsSync(PGBOUNCER_PATH);

if (!HAS_PGBOUNCER) {
  console.warn(`PgBouncer tests skipped: ${PGBOUNCER_PATH} is missing (apt-get install pgbouncer)`);
}

export interface PgBouncer {
  /** `postgres://postgres@127.0.0.1:PORT/DB`: the database through the pooler. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer on a free loopback port, pooling `databaseUrl` (trust auth, as the test
 * server) in transaction mode with `poolSize` server connections.
 */
export async function startPgBouncer(databaseUrl: string, poolSize = 2): Promise<PgBouncer> {
  const target = new URL(databaseUrl);
  const db = target.pathname.slice(1);
  const port = await freePort();
  const dir = tempDir();
  // PgBouncer will not run as root: under root it switches to `nobody`, who must read these.
  chmodSync(dir, 0o777);
  const ini = path.join(dir, 'pgbouncer.ini');
  const users = path.join(dir, 'users.txt');
  writeFileSync(users, '"postgres" ""\n');
  writeFileSync(
    ini,
    `[databases]
${db} = host=${target.hostname} port=${target.port || 5432} dbname=${db} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${users}
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 100
ignore_startup_parameters = extra_float_digits,options
logfile = ${dir}/pgbouncer.log
pidfile = ${dir}/pgbouncer.pid
`,
  );
  for (const f of [ini, users]) chmodSync(f, 0o644);
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(PGBOUNCER_PATH, [...(asRoot ? ['-u', 'nobody'] : []), ini], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += c));
  const url = `postgres://postgres@127.0.0.1:${port}/${db}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${stderr}`);
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      return c.connect().then(
        () => c.end().then(() => true),
        () => false,
      );
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}
