import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrationProvider } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/pixeltrail.js';

describe('0003_dashboard_touch_days on a store already at 0003_dashboard', () => {
  it('DM01 counts the touches already stored and swaps the conversion index', async () => {
    const db = new Kysely<any>({
      dialect: new SqliteDialect({
        database: new BetterSqlite3(path.join(tempDir(), 'pixeltrail.db')),
      }),
    });
    try {
      const migrator = new Migrator({
        db,
        provider: migrationProvider('sqlite'),
        allowUnorderedMigrations: true,
      });
      expect((await migrator.migrateTo('0003_dashboard')).error).toBeUndefined();
      const touch = (kind: string, time: number, campaign: string | null) => ({
        env_id: 'e',
        kind,
        touch_id: `${kind}-${time}`,
        dest_id: 'd1',
        campaign_id: campaign,
        time,
      });
      await db
        .insertInto('touches')
        .values([
          touch('impression', 86_400 * 20_000 + 1, 'c1'),
          touch('impression', 86_400 * 20_000 + 2, 'c1'),
          touch('click', 86_400 * 20_000 + 3, null),
          touch('impression', 86_400 * 20_001, 'c1'),
        ])
        .execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const days = await db
        .selectFrom('touch_days')
        .select(['day', 'kind', 'campaign_id', 'n'])
        .orderBy('day')
        .orderBy('kind')
        .execute();
      expect(days).toEqual([
        { day: 20_000, kind: 'click', campaign_id: '', n: 1 },
        { day: 20_000, kind: 'impression', campaign_id: 'c1', n: 2 },
        { day: 20_001, kind: 'impression', campaign_id: 'c1', n: 1 },
      ]);
      const indexes = await sql<{ name: string }>`
        select name from sqlite_master where type = 'index' and tbl_name = 'conversions'`.execute(
        db,
      );
      const names = indexes.rows.map((r) => r.name);
      expect(names).toContain('conversions_report');
      expect(names).not.toContain('conversions_by_env_event_time');
    } finally {
      await db.destroy();
    }
  });
});
