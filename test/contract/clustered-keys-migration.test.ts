import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type Dialect, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrationProvider, type Dialect as StoreDialect } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

// 0036_clustered_ingest_keys rebuilds dedup_keys and conversion_paths on SQLite as WITHOUT
// ROWID tables (one b-tree per row written, issue 22): the rows stored before it stay, each
// key still takes one row, and the reads keep their indexes.

const hasPostgres = await postgresAvailable();
const T = 1_763_900_000;

async function rebuild(kind: StoreDialect, dialect: Dialect) {
  const db = new Kysely<any>({ dialect });
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider(kind),
      allowUnorderedMigrations: true,
    });
    expect((await migrator.migrateTo('0033_fraud_verdicts')).error).toBeUndefined();
    const keys = Array.from({ length: 1200 }, (_, i) => ({
      env_id: 'e',
      event_name: 'Purchase',
      event_id: `o-${i}`,
      event_pk: `ev_${String(i).padStart(5, '0')}`,
      first_seen: T + i,
    }));
    const paths = keys.map((k, i) => ({
      env_id: 'e',
      conversion_id: `cv_${String(i).padStart(5, '0')}`,
      event_pk: k.event_pk,
      event_name: 'Purchase',
      event_time: T + i,
      value: i % 3 === 0 ? null : i / 4,
      currency: i % 3 === 0 ? null : 'EUR',
      lookback_s: 604_800,
      touches: JSON.stringify([{ touch_id: `imp-${i}`, time: T + i - 60 }]),
      created_at_ms: (T + i) * 1000,
    }));
    for (let i = 0; i < keys.length; i += 200) {
      await db
        .insertInto('dedup_keys')
        .values(keys.slice(i, i + 200))
        .execute();
      await db
        .insertInto('conversion_paths')
        .values(paths.slice(i, i + 200))
        .execute();
    }
    expect((await migrator.migrateToLatest()).error).toBeUndefined();

    const keysAfter = await db.selectFrom('dedup_keys').selectAll().orderBy('event_pk').execute();
    expect(keysAfter.map((r) => ({ ...r, first_seen: Number(r.first_seen) }))).toEqual(keys);
    const pathsAfter = await db
      .selectFrom('conversion_paths')
      .selectAll()
      .orderBy('conversion_id')
      .execute();
    expect(
      pathsAfter.map((r) => ({
        ...r,
        event_time: Number(r.event_time),
        lookback_s: Number(r.lookback_s),
        created_at_ms: Number(r.created_at_ms),
      })),
    ).toEqual(paths);
    // A key is still one row: a second claim of it conflicts.
    await expect(db.insertInto('dedup_keys').values(keys[7]).execute()).rejects.toThrow();
    await expect(db.insertInto('conversion_paths').values(paths[7]).execute()).rejects.toThrow();
    return db;
  } catch (e) {
    await db.destroy();
    throw e;
  }
}

describe('0036_clustered_ingest_keys on rows stored before it', () => {
  it('CK01 SQLite: rows kept, keys unique, one b-tree per row, reads on their indexes', async () => {
    const db = await rebuild(
      'sqlite',
      new SqliteDialect({ database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')) }),
    );
    try {
      // Rows live in their primary key's b-tree: there is no rowid to read.
      for (const table of ['dedup_keys', 'conversion_paths'])
        await expect(sql`select rowid from ${sql.table(table)}`.execute(db)).rejects.toThrow(
          /no such column: rowid/,
        );
      const plan = async (q: ReturnType<typeof sql>) =>
        (await sql<{ detail: string }>`explain query plan ${q}`.execute(db)).rows
          .map((r) => r.detail)
          .join('; ');
      expect(
        await plan(
          sql`select * from conversion_paths where env_id = 'e' and event_time >= 1 and event_time < 2 order by event_time, conversion_id`,
        ),
      ).toMatch(/USING INDEX conversion_paths_by_time/);
      expect(
        await plan(sql`select * from conversion_paths where env_id = 'e' and conversion_id = 'c'`),
      ).toMatch(/USING PRIMARY KEY/);
      expect(
        await plan(
          sql`select event_pk from dedup_keys where env_id = 'e' and event_name = 'P' and event_id = 'x'`,
        ),
      ).toMatch(/USING PRIMARY KEY/);
    } finally {
      await db.destroy();
    }
  }, 60_000);

  it.skipIf(!hasPostgres)(
    'CK02 PostgreSQL: nothing to rebuild, the rows and keys as before',
    async () => {
      const fresh = await freshPostgresDatabase();
      try {
        const db = await rebuild(
          'postgres',
          new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 2 }) }),
        );
        await db.destroy();
      } finally {
        await fresh.drop();
      }
    },
    120_000,
  );
});
