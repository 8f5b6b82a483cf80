import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type Dialect, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqliteAtomically } from '../../src/store/migrations/define.js';
import { migrationProvider, type Dialect as StoreDialect } from '../../src/store/migrations.js';
import type { Database } from '../../src/store/schema.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

// 0038_views_per_destination keys the viewability rows by destination too (review finding 9):
// the rows stored before it keep every measured field, and two destinations may then hold a
// row for the same impression id.

const hasPostgres = await postgresAvailable();
const MS = 1_763_900_000_000;

const row = (imp_id: string, dest_id: string, viewable: number) => ({
  env_id: 'e',
  imp_id,
  dest_id,
  measurable: 1,
  viewable,
  time_to_view_ms: viewable ? 1000 : null,
  max_share: viewable ? 1 : 0.3,
  video: 0,
  first_ms: MS,
  updated_ms: MS + 1,
});

async function migrate(kind: StoreDialect, dialect: Dialect) {
  const db = new Kysely<Database>({ dialect });
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider(kind),
      allowUnorderedMigrations: true,
    });
    expect((await migrator.migrateTo('0033_fraud_verdicts')).error).toBeUndefined();
    // Before 0038 dest_id was nullable and not part of the key.
    await (db as unknown as Kysely<Record<string, Record<string, unknown>>>)
      .insertInto('impression_views')
      .values([row('A', 'd1', 1), { ...row('B', '', 0), dest_id: null }])
      .execute();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    await db
      .insertInto('impression_views')
      .values(row('A', 'd2', 0))
      .execute();
    const rows = await db
      .selectFrom('impression_views')
      .select(['imp_id', 'dest_id', 'viewable', 'max_share', 'time_to_view_ms', 'first_ms'])
      .orderBy('imp_id')
      .orderBy('dest_id')
      .execute();
    // PostgreSQL answers its bigints as strings.
    const num = (v: unknown) => (v === null ? null : Number(v));
    const got = rows.map((r) => ({
      ...r,
      first_ms: num(r.first_ms),
      time_to_view_ms: num(r.time_to_view_ms),
      max_share: num(r.max_share),
      viewable: num(r.viewable),
    }));
    expect(got).toEqual([
      {
        imp_id: 'A',
        dest_id: 'd1',
        viewable: 1,
        max_share: 1,
        time_to_view_ms: 1000,
        first_ms: MS,
      },
      {
        imp_id: 'A',
        dest_id: 'd2',
        viewable: 0,
        max_share: 0.3,
        time_to_view_ms: null,
        first_ms: MS,
      },
      {
        imp_id: 'B',
        dest_id: '',
        viewable: 0,
        max_share: 0.3,
        time_to_view_ms: null,
        first_ms: MS,
      },
    ]);
    // The key is (env_id, dest_id, imp_id): the same destination's impression once.
    await expect(
      db
        .insertInto('impression_views')
        .values(row('A', 'd1', 0))
        .execute(),
    ).rejects.toThrow();
  } finally {
    await db.destroy();
  }
}

describe('0038_views_per_destination on rows stored before it', () => {
  it('VM01 SQLite: rows keep their fields, a missing destination becomes empty, the key gains dest_id', async () => {
    await migrate(
      'sqlite',
      new SqliteDialect({ database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')) }),
    );
  }, 60_000);

  it('VM03 SQLite: a rebuild interrupted halfway leaves the old table whole, and the step can run again', async () => {
    const file = path.join(tempDir(), 'pixeltrail.db');
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(file) }),
    });
    try {
      const migrator = new Migrator({ db, provider: migrationProvider('sqlite') });
      expect((await migrator.migrateTo('0033_fraud_verdicts')).error).toBeUndefined();
      await db
        .insertInto('impression_views')
        .values(row('A', 'd1', 1))
        .execute();
      // As 0038 does, up to the old table dropped, then the process fails.
      await expect(
        sqliteAtomically(db as unknown as Kysely<unknown>, async () => {
          await sql`create table impression_views_new (env_id text)`.execute(db);
          await sql`drop table impression_views`.execute(db);
          throw new Error('killed');
        }),
      ).rejects.toThrow('killed');
      const kept = await db.selectFrom('impression_views').select('imp_id').execute();
      expect(kept).toEqual([{ imp_id: 'A' }]);
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
    } finally {
      await db.destroy();
    }
  });

  it.skipIf(!hasPostgres)(
    'VM02 PostgreSQL: the same',
    async () => {
      const fresh = await freshPostgresDatabase();
      try {
        await migrate(
          'postgres',
          new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 2 }) }),
        );
      } finally {
        await fresh.drop();
      }
    },
    120_000,
  );
});
