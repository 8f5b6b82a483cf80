import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';

/** SQLite file name inside the data folder. */
export const SQLITE_FILE = 'pixeltrail.db';

/**
 * Opens (creating if needed) the embedded SQLite store. WAL lets readers (admin API, a
 * `replay` CLI) run beside the writer; `synchronous=NORMAL` in WAL mode loses nothing when
 * the process dies, only possibly the last commits on power loss.
 */
export function openSqliteStore(dataDir: string): KyselyStore {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE);
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return new KyselyStore(db, 'sqlite');
}
