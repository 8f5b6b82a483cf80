// A fresh PostgreSQL database for one bench run, on the server of `adminUrl` (shared by
// run.mjs and busy-address.mjs), and a freshly migrated SQLite store to seed by hand (shared
// by reports-beside-ingest.mjs and purge-stall.mjs).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/**
 * A SQLite store in `dataDir` with every migration applied, opened with better-sqlite3 alone
 * (no threads of the store's): seeds write millions of rows straight into its tables.
 */
export async function migratedSqlite(dataDir) {
  const { openSqliteStore, SQLITE_FILE } = await import(
    pathToFileURL(path.join(ROOT, 'dist', 'store/sqlite/open-sqlite.js')).href
  );
  const store = openSqliteStore(dataDir);
  await store.migrate();
  await store.close();
  const { default: Database } = await import('better-sqlite3');
  return new Database(path.join(dataDir, SQLITE_FILE));
}

/** Makes database `name` anew (dropping one left by a run that died); `drop` removes it. */
export async function createBenchDatabase(adminUrl, name = `pixeltrail_bench_${process.pid}`) {
  const run = async (sql) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
