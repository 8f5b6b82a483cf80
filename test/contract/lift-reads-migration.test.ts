import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type Dialect, Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrationProvider, type Dialect as StoreDialect } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

// 0032_lift_reads flags the events stored before it that carried a test code, from their
// JSON's own field: not those with a property of that name, whatever else their JSON holds.

const hasPostgres = await postgresAvailable();
const T = 1_763_900_000;

function event(i: number, data: Record<string, unknown>) {
  const pk = `ev_${String(i).padStart(5, '0')}`;
  return {
    pk,
    env_id: 'e',
    event_name: 'Purchase',
    event_id: pk,
    event_time: T,
    received_at_ms: T * 1000,
    source: 'server',
    data: JSON.stringify({ event_name: 'Purchase', user: {}, ...data }),
    duplicate_count: 0,
  };
}

async function backfill(kind: StoreDialect, dialect: Dialect) {
  const db = new Kysely<any>({ dialect });
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider(kind),
      allowUnorderedMigrations: true,
    });
    expect((await migrator.migrateTo('0027_install_fraud')).error).toBeUndefined();
    // More rows that mention test_code than one page of the backfill (1,000).
    const rows = [];
    for (let i = 0; i < 2500; i++)
      rows.push(
        i % 2 === 0
          ? event(i, { test_code: `T${i}`, properties: {} })
          : event(i, { properties: { test_code: 'SPRING-A', value: 5 } }),
      );
    // A NUL escape in a property, which PostgreSQL's JSON operators refuse.
    rows.push(event(5000, { test_code: 'T-nul', properties: { note: 'a\u0000b' } }));
    rows.push(event(5001, { properties: { value: 1 } }));
    rows.push(event(5002, { test_code: '', properties: {} }));
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto('events')
        .values(rows.slice(i, i + 500))
        .execute();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const flagged = await db
      .selectFrom('events')
      .select('pk')
      .where('is_test', '=', 1)
      .orderBy('pk')
      .execute();
    const expected = [
      ...Array.from({ length: 1250 }, (_, k) => `ev_${String(2 * k).padStart(5, '0')}`),
      'ev_05000',
    ];
    expect(flagged.map((r) => r.pk)).toEqual(expected);
    const all = await db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .execute();
    expect(Number(all[0]?.n)).toBe(2503);
  } finally {
    await db.destroy();
  }
}

describe('0032_lift_reads on events stored before it', () => {
  it('LR01 SQLite: events that carried a test code are flagged, a property of that name is not', async () => {
    await backfill(
      'sqlite',
      new SqliteDialect({ database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')) }),
    );
  }, 60_000);

  it.skipIf(!hasPostgres)(
    'LR02 PostgreSQL: the same, a NUL escape in a property included',
    async () => {
      const fresh = await freshPostgresDatabase();
      try {
        await backfill(
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
