import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SQLITE_FILE } from '../../src/store/sqlite/open-sqlite.js';

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
