import pg from 'pg';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { tempDir } from './pixeltrail.js';

/** The PostgreSQL server of this machine (and CI); tests make their own databases on it. */
export const PG_ADMIN_URL =
  process.env.PIXELTRAIL_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * True when the PostgreSQL server answers. Under `CI=true` a missing server is an error, not a
 * skip: a green CI must mean the PostgreSQL half of the suite ran.
 */
export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') {
      throw new Error(`PostgreSQL is required under CI=true but ${PG_ADMIN_URL} did not answer`, {
        cause: err,
      });
    }
    return false;
  }
}

/** A fresh, empty database on the test server; `drop` removes it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `pixeltrail_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Each store kind the contract suite runs on: a migrated store, how to dispose of it, and on
 * PostgreSQL its database's URL (for a connection of a test's own).
 */
export const STORE_KINDS: Record<
  string,
  () => Promise<{ store: KyselyStore; dispose: () => Promise<void>; url?: string }>
> = {
  sqlite: async () => {
    const store = openSqliteStore(tempDir());
    await store.migrate();
    return { store, dispose: () => store.close() };
  },
  postgres: async () => {
    const db = await freshPostgresDatabase();
    const store = openPostgresStore(db.url);
    await store.migrate();
    return {
      store,
      url: db.url,
      dispose: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
};
