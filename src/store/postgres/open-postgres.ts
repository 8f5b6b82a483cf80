import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import { PreparedTexts, prepareKnownTexts } from './prepared-statements.js';

/** Connections per process; a `serve` needs a few for ingest, delivery and the admin API. */
const POOL_SIZE = 10;
const INT8_OID = 20;

/**
 * Opens the PostgreSQL store for multi-instance deployments (`DATABASE_URL`). Times are
 * bigint milliseconds, well inside JavaScript's exact integer range, so int8 is read as a
 * number. Migrations are safe when several processes start at once: Kysely's migrator holds
 * a lock row while it applies them.
 */
export function openPostgresStore(connectionString: string): KyselyStore {
  pg.types.setTypeParser(INT8_OID, (v) => Number(v));
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE });
  // An idle connection dies when PostgreSQL restarts or an admin terminates it; the pool
  // drops it and the next query opens a new one. Without a listener, Node would treat the
  // event as an uncaught error and end the process.
  pool.on('error', () => undefined);
  // The same for a connection checked out of the pool: its socket error would be an
  // unhandled 'error' event; the query on it fails anyway, and the pool discards it.
  const prepared = new PreparedTexts();
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    prepareKnownTexts(client, prepared);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new KyselyStore(db, 'postgres', undefined, prepared);
}
