import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PreparedTexts, prepareKnownTexts } from '../kysely/prepared-statements.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';

/** Connections per process; a `serve` needs a few for ingest, delivery and the admin API. */
const POOL_SIZE = 10;
const INT8_OID = 20;
/** How long an idle connection is kept. */
const IDLE_MS = 10 * 60_000;

/** The URL parameter that says a transaction-mode pooler stands between us and PostgreSQL. */
const POOLER_PARAM = 'pgbouncer';

/**
 * Reads `?pgbouncer=true` off the connection string (the name Prisma gives it): behind a
 * pooler in transaction mode that does not keep prepared statements (PgBouncer before 1.21,
 * or with `max_prepared_statements = 0`), a statement prepared on one server connection is
 * missing on the next, so none is named. Everything else pixeltrail does holds in
 * transaction mode: its locks and settings are per transaction.
 */
export function poolerSetting(connectionString: string): {
  connectionString: string;
  namedStatements: boolean;
} {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString, namedStatements: true };
  }
  const value = url.searchParams.get(POOLER_PARAM);
  if (value === null) return { connectionString, namedStatements: true };
  url.searchParams.delete(POOLER_PARAM);
  return { connectionString: url.toString(), namedStatements: value !== 'true' };
}

/**
 * Opens the PostgreSQL store for multi-instance deployments (`DATABASE_URL`). Times are
 * bigint milliseconds, well inside JavaScript's exact integer range, so int8 is read as a
 * number. Migrations are safe when several processes start at once: Kysely's migrator holds
 * a lock row while it applies them.
 */
export function openPostgresStore(databaseUrl: string): KyselyStore {
  pg.types.setTypeParser(INT8_OID, (v) => Number(v));
  const { connectionString, namedStatements } = poolerSetting(databaseUrl);
  // A connection kept while idle keeps its prepared statements and their plans: the ingest
  // transaction's touch read takes about 0.15 s to plan on a store of 90 day partitions
  // (set-wise-ingest.ts). pg-pool's default closes it after 10 s, so a server with an event a
  // minute would plan it for every event.
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE, idleTimeoutMillis: IDLE_MS });
  // An idle connection dies when PostgreSQL restarts or an admin terminates it; the pool
  // drops it and the next query opens a new one. Without a listener, Node would treat the
  // event as an uncaught error and end the process.
  pool.on('error', () => undefined);
  // The same for a connection checked out of the pool: its socket error would be an
  // unhandled 'error' event; the query on it fails anyway, and the pool discards it.
  const prepared = new PreparedTexts();
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    if (namedStatements) prepareKnownTexts(client, prepared);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // Behind a pooler that keeps no prepared statements nothing is named, and the ingest
  // transaction keeps PostgreSQL's choice of plans (set-wise-ingest.ts).
  return new KyselyStore(db, 'postgres', undefined, namedStatements ? prepared : undefined);
}
