/**
 * Issue 23 on both stores: imported costs replace what their campaigns cost on their days
 * (every channel), as spend typed in does; spend typed in before 0023_costs survives the
 * table's rebuild; channel settings are saved, read and forgotten; a visit's traffic source
 * rides on its touch and comes back on the lookup.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHANNEL_SETTINGS } from '../../src/domain/channel-rules.js';
import type { CostRow } from '../../src/domain/costs.js';
import { type Dialect, migrationProvider } from '../../src/store/migrations.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const DAY = 20_412;

const row = (over: Partial<CostRow>): CostRow => ({
  day: DAY,
  campaign_id: 'c1',
  channel: '',
  cost: 10,
  currency: 'EUR',
  source: null,
  medium: null,
  impressions: null,
  clicks: null,
  ...over,
});

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`costs and channels on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('CC01 an import replaces what its campaigns cost on its days, every channel, and keeps the others', async () => {
      await store.putCosts(
        'e',
        [
          row({ impressions: 1000, clicks: 20 }),
          row({ channel: 'Email', cost: 5, currency: 'USD' }),
          row({ day: DAY + 1, cost: 7 }),
          row({ campaign_id: 'c3', cost: 1 }),
        ],
        1,
      );
      await store.putCosts('e', [row({ cost: 12.5, source: 'facebook', medium: 'cpc' })], 2);
      await store.putCosts('other', [row({ cost: 99 })], 2);
      // c1 on DAY is what the second import says, whatever channels the first named; c1 on
      // DAY + 1 and c3 on DAY were not in it.
      expect(await store.listCosts('e', DAY, DAY + 1)).toEqual([
        row({ cost: 12.5, source: 'facebook', medium: 'cpc' }),
        row({ campaign_id: 'c3', cost: 1 }),
      ]);
      expect((await store.listCosts('e', DAY, DAY + 2)).map((c) => c.cost)).toEqual([12.5, 1, 7]);
    });

    it('CC07 the same line imported again under a channel replaces it: the day costs once', async () => {
      await store.putCosts('e7', [row({ cost: 100 })], 1);
      await store.putCosts('e7', [row({ cost: 100, channel: 'Paid Search' })], 2);
      expect(await store.listCosts('e7', DAY, DAY + 1)).toEqual([
        row({ cost: 100, channel: 'Paid Search' }),
      ]);
    });

    it("CC02 spend typed in for a range sits beside other campaigns' costs, and replaces its own days", async () => {
      await store.setCampaignCost('e', 'c2', DAY, DAY, 30, null);
      expect(await store.listCosts('e', DAY, DAY + 1)).toContainEqual(
        expect.objectContaining({ campaign_id: 'c2', channel: '', cost: 30, currency: null }),
      );
      // Typed in over days an import covered: what was typed is the campaign's cost then.
      await store.putCosts(
        'e8',
        [row({ channel: 'Paid Social', cost: 40 }), row({ day: DAY + 1 })],
        1,
      );
      await store.setCampaignCost('e8', 'c1', DAY, DAY, 25, 'EUR');
      expect(await store.listCosts('e8', DAY, DAY + 2)).toEqual([
        row({ cost: 25 }),
        row({ day: DAY + 1 }),
      ]);
      // And an import after it replaces the typed-in day in turn.
      await store.putCosts('e8', [row({ channel: 'Email', cost: 3 })], 2);
      expect(await store.listCosts('e8', DAY, DAY + 1)).toEqual([
        row({ channel: 'Email', cost: 3 }),
      ]);
    });

    it('CC03 channel settings are saved, replaced and forgotten', async () => {
      expect(await store.getChannelSettings('e')).toBeNull();
      await store.putChannelSettings('e', DEFAULT_CHANNEL_SETTINGS, 5);
      const mine = { rules: [{ channel: 'Mail', medium: ['email'] }], ignored_referrers: [] };
      await store.putChannelSettings('e', mine, 6);
      expect(await store.getChannelSettings('e')).toEqual({ settings: mine, updated_at_ms: 6 });
      expect(await store.deleteChannelSettings('e')).toBe(true);
      expect(await store.deleteChannelSettings('e')).toBe(false);
    });

    it('CC04 a visit touch keeps its traffic source through the touch lookup', async () => {
      const ts = {
        source: 'google',
        medium: 'organic',
        by: 'referrer' as const,
        referrer_host: 'www.google.com',
      };
      await store.insertTouches([
        {
          env_id: 'e',
          kind: 'visit',
          touch_id: 'v_cc04',
          dest_id: null,
          campaign_id: null,
          creative_id: null,
          placement_id: null,
          time: DAY * 86_400,
          anonymous_id: 'anon-cc04',
          user_id: null,
          ip: null,
          user_agent: null,
          traffic_source: ts,
        },
      ]);
      const found = await store.ingest((tx) =>
        tx.findTouches({ env_id: 'e', anonymous_ids: ['anon-cc04'], touch_ids: [], since: 0 }),
      );
      expect(found).toEqual([expect.objectContaining({ kind: 'visit', traffic_source: ts })]);
    });
  });
}

async function checkRebuild(db: Kysely<any>, dialect: Dialect) {
  const provider = migrationProvider(dialect);
  const names = Object.keys(await provider.getMigrations());
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
  expect((await migrator.migrateTo(names[names.indexOf('0023_costs') - 1])).error).toBeUndefined();
  await db
    .insertInto('campaign_costs')
    .values([
      { env_id: 'e', campaign_id: 'c1', day: DAY, cost: 3.5, currency: 'EUR' },
      { env_id: 'e', campaign_id: 'c1', day: DAY + 1, cost: 4, currency: null },
    ])
    .execute();
  expect((await migrator.migrateToLatest()).error).toBeUndefined();
  const rows = await db
    .selectFrom('campaign_costs')
    .select(['campaign_id', 'channel', 'day', 'cost', 'currency'])
    .orderBy('day')
    .execute();
  expect(rows.map((r) => ({ ...r, day: Number(r.day), cost: Number(r.cost) }))).toEqual([
    { campaign_id: 'c1', channel: '', day: DAY, cost: 3.5, currency: 'EUR' },
    { campaign_id: 'c1', channel: '', day: DAY + 1, cost: 4, currency: null },
  ]);
}

describe('0023_costs on a store with spend', () => {
  it('CC05 sqlite: spend stored before keeps its rows, with no channel', async () => {
    const db = new Kysely<any>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(path.join(tempDir(), 'pt.db')) }),
    });
    try {
      await checkRebuild(db, 'sqlite');
    } finally {
      await db.destroy();
    }
  });

  it.skipIf(!hasPostgres)(
    'CC06 postgres: spend stored before keeps its rows, with no channel',
    async () => {
      const fresh = await freshPostgresDatabase();
      const db = new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url }) }),
      });
      try {
        await checkRebuild(db, 'postgres');
      } finally {
        await db.destroy();
        await fresh.drop();
      }
    },
  );
});
