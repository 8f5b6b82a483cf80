import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type Dialect, migrationProvider } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();

/**
 * A stored conversion as rows were written before match_type existed; its id made from its
 * event's key, as ingest has always made it (0039 relies on that).
 */
function conversionRow(id: string, match_key: string | null) {
  return {
    conversion_id: `cv_${id}`,
    dest_id: 'd1',
    env_id: 'e',
    event_pk: `ev_${id}`,
    event_name: 'Purchase',
    event_id: id,
    event_time: 1_763_900_000,
    attributed: match_key ? 1 : 0,
    attribution: match_key
      ? JSON.stringify({ type: 'view', imp_id: 'I', match_key, window: '1d' })
      : null,
    created_at_ms: 1,
  };
}

async function checkBackfill(db: Kysely<any>, dialect: Dialect) {
  const provider = migrationProvider(dialect);
  const names = Object.keys(await provider.getMigrations());
  const before = names[names.indexOf('0013_match_type') - 1];
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
  expect((await migrator.migrateTo(before)).error).toBeUndefined();
  await db
    .insertInto('conversions')
    .values([
      conversionRow('a', 'cookie'),
      conversionRow('b', 'ip+ua'),
      conversionRow('c', 'ip'),
      conversionRow('d', 'user_id'),
      conversionRow('e', null),
    ])
    .execute();
  expect((await migrator.migrateToLatest()).error).toBeUndefined();
  const rows = await db
    .selectFrom('conversions')
    .select(['conversion_id', 'match_type'])
    .orderBy('conversion_id')
    .execute();
  expect(rows).toEqual([
    { conversion_id: 'cv_a', match_type: 'deterministic' },
    { conversion_id: 'cv_b', match_type: 'probabilistic' },
    { conversion_id: 'cv_c', match_type: 'probabilistic' },
    { conversion_id: 'cv_d', match_type: 'deterministic' },
    { conversion_id: 'cv_e', match_type: null },
  ]);
}

describe('0013_match_type on a store with conversions', () => {
  it('MT01 sqlite: conversions stored before get their match type from their match key', async () => {
    const db = new Kysely<any>({
      dialect: new SqliteDialect({
        database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')),
      }),
    });
    try {
      await checkBackfill(db, 'sqlite');
    } finally {
      await db.destroy();
    }
  });

  it.skipIf(!hasPostgres)(
    'MT02 postgres: conversions stored before get their match type from their match key',
    async () => {
      const fresh = await freshPostgresDatabase();
      const db = new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url }) }),
      });
      try {
        await checkBackfill(db, 'postgres');
      } finally {
        await db.destroy();
        await fresh.drop();
      }
    },
  );
});
