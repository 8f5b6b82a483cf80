import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { Server } from '../../src/server.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import { SQLITE_FILE } from '../../src/store/sqlite/open-sqlite.js';
import { startPixeltrail, tempDir } from './pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from './stores.js';

/** Every row of every table, as `<table> <row JSON>`: what a full scan of the store shows. */
export type Scan = () => Promise<string[]>;

/** Scans the SQLite store in `dataDir`. */
export function sqliteScan(dataDir: string): Scan {
  return async () => {
    const db = new BetterSqlite3(path.join(dataDir, SQLITE_FILE), { readonly: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        .all() as { name: string }[];
      return tables.flatMap((t) =>
        (db.prepare(`SELECT * FROM "${t.name}"`).all() as object[]).map(
          (r) => `${t.name} ${JSON.stringify(r)}`,
        ),
      );
    } finally {
      db.close();
    }
  };
}

/** Scans the PostgreSQL database at `url`. */
export function postgresScan(url: string): Scan {
  return async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const tables = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      const out: string[] = [];
      for (const { tablename } of tables.rows) {
        const rows = await c.query(`SELECT * FROM "${tablename}"`);
        for (const r of rows.rows) out.push(`${tablename} ${JSON.stringify(r)}`);
      }
      return out;
    } finally {
      await c.end();
    }
  };
}

/** A pixeltrail server on one store kind, with a full scan of that store. */
export interface ScannedRig {
  server: Server;
  base: string;
  scan: Scan;
  close(): Promise<void>;
}

/** Starts pixeltrail on `config` over SQLite, with a scan of its file. */
export async function sqliteRig(config: unknown): Promise<ScannedRig> {
  const dir = tempDir();
  const { server, base } = await startPixeltrail(config, dir);
  return { server, base, scan: sqliteScan(dir), close: () => server.close() };
}

/** Starts pixeltrail on `config` over a fresh PostgreSQL database, dropped on close. */
export async function postgresRig(config: unknown): Promise<ScannedRig> {
  const db = await freshPostgresDatabase();
  const { server, base } = await startPixeltrail(config, tempDir(), {
    store: openPostgresStore(db.url),
  });
  return {
    server,
    base,
    scan: postgresScan(db.url),
    async close() {
      await server.close();
      await db.drop();
    },
  };
}

/** Each store kind an erasure test runs on: name, how to start it, and whether it is here. */
export async function scannedRigKinds(): Promise<
  Array<[string, (config: unknown) => Promise<ScannedRig>, boolean]>
> {
  return [
    ['sqlite', sqliteRig, true],
    ['postgres', postgresRig, await postgresAvailable()],
  ];
}
