import cluster from 'node:cluster';
import { ConfigError } from './config/config-load.js';
import type { AppConfig } from './domain/config-types.js';

/** A worker that dies on its own is replaced, but not more often than this. */
const RESPAWN_DELAY_MS = 1000;

/**
 * `serve --workers N`: N serve processes sharing one port through node:cluster (the primary
 * accepts connections and hands them out). Every worker is a whole pixeltrail — collector,
 * attribution, delivery worker — so they must share a database that several writers can
 * use: PostgreSQL. SQLite has a single writer; with it, run one process (its pixel path
 * already writes on a thread of its own).
 *
 * Returns true in the primary (which then only supervises), false in a worker.
 */
export function startCluster(config: AppConfig, workers: number): boolean {
  if (!cluster.isPrimary) return false;
  if (!config.database_url)
    throw new ConfigError(
      '--workers needs PostgreSQL (DATABASE_URL or database_url): SQLite has a single writer',
    );
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(
      `pixeltrail: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
    );
    setTimeout(fork, RESPAWN_DELAY_MS);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // Each worker flushes its buffers and finishes its deliveries, then exits.
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGTERM'));
  return true;
}
