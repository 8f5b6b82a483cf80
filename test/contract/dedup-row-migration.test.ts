import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type Dialect, Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrationProvider, type Dialect as StoreDialect } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const T = 1_763_900_000;

function credit(type: 'click' | 'view', key: string, ago_s: number) {
  return JSON.stringify({
    type,
    imp_id: type === 'view' ? 'imp' : null,
    click_id: type === 'click' ? 'clk' : null,
    campaign_id: 'c',
    creative_id: null,
    placement_id: null,
    touch_time: T - ago_s,
    match_key: key,
    window: '1d',
    model: 'last_touch',
  });
}

function row(conversion_id: string, dest_id: string, attribution: string | null) {
  return {
    conversion_id,
    dest_id,
    env_id: 'e',
    // The event key the id is made from, as ingest has always made it (0039 relies on that).
    event_pk: `ev_${conversion_id.slice('cv_'.length)}`,
    event_name: 'Purchase',
    event_id: conversion_id,
    event_time: T,
    value: 1,
    currency: 'EUR',
    attributed: attribution ? 1 : 0,
    attribution,
    reason: attribution ? null : 'no touch',
    created_at_ms: T * 1000,
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
    expect((await migrator.migrateTo('0015_fx_rates')).error).toBeUndefined();
    // More conversions than one read chunk (5,000 rows), so one is split across two.
    const rows = [];
    for (let i = 0; i < 2600; i++) {
      const id = `cv_${String(i).padStart(5, '0')}`;
      // d1 credits an ip click, d2 the person's own cookie impression: d2 wins (DESIGN §6).
      rows.push(
        row(id, 'd1', credit('click', 'ip', 60)),
        row(id, 'd2', credit('view', 'cookie', 600)),
      );
    }
    rows.push(row('cv_none', 'd1', null), row('cv_none', 'd0', null));
    rows.push(row('cv_one', 'd9', credit('click', 'cookie', 60)), row('cv_one', 'd0', null));
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto('conversions')
        .values(rows.slice(i, i + 500))
        .execute();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const marked = await db
      .selectFrom('conversions')
      .select(['conversion_id', 'dest_id'])
      .where('dedup_row', '=', 1)
      .orderBy('conversion_id')
      .execute();
    expect(marked).toHaveLength(2602);
    expect(
      marked.filter((r) => r.conversion_id.startsWith('cv_0')).every((r) => r.dest_id === 'd2'),
    ).toBe(true);
    expect(marked.find((r) => r.conversion_id === 'cv_none')?.dest_id).toBe('d0');
    expect(marked.find((r) => r.conversion_id === 'cv_one')?.dest_id).toBe('d9');
  } finally {
    await db.destroy();
  }
}

describe('0015b_dedup_row on conversions stored before it', () => {
  it('DR01 SQLite: each conversion gets one row, the winning credit across destinations', async () => {
    await backfill(
      'sqlite',
      new SqliteDialect({ database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')) }),
    );
  }, 60_000);

  it.skipIf(!hasPostgres)(
    'DR02 PostgreSQL: the same',
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
