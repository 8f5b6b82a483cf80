import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationProvider } from '../../src/store/migrations.js';
import { listPartitions, PARTITIONED, partitionName } from '../../src/store/partitions.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!hasPostgres)('PostgreSQL day partitions', () => {
  it('M01 a database made before partitioning keeps its rows, now in day partitions, and migrating again changes nothing', async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const store = openPostgresStore(db.url);
    cleanups.push(() => store.close());
    const old = new Migrator({ db: store.db, provider: migrationProvider('postgres') });
    expect((await old.migrateTo('0002_sparse_user_index')).error).toBeUndefined();

    const day = Date.UTC(2026, 10, 20);
    await store.db
      .insertInto('touches')
      .values([
        { env_id: 'e', kind: 'impression', touch_id: 'OLD-1', time: day / 1000 + 60 },
        { env_id: 'e', kind: 'click', touch_id: 'OLD-2', time: day / 1000 + 86_400 + 60 },
      ])
      .execute();
    await store.db
      .insertInto('events')
      .values({
        pk: 'ev_legacyKeyWithoutTime',
        env_id: 'e',
        event_name: 'Purchase',
        event_id: 'o1',
        event_time: day / 1000,
        received_at_ms: day + 5,
        source: 'server',
        duplicate_count: 0,
        data: JSON.stringify({
          env_id: 'e',
          event_name: 'Purchase',
          event_id: 'o1',
          event_time: day / 1000,
          source: 'server',
          user: {},
          properties: {},
          consent: { ads: null, analytics: null },
          warnings: [],
        }),
      })
      .execute();

    await store.migrate();
    await store.migrate();
    const [touches, events] = PARTITIONED;
    const touchParts = await listPartitions(store.db, touches);
    expect(touchParts).toEqual(
      expect.arrayContaining([
        'touches_default',
        partitionName(touches, day),
        partitionName(touches, day + 86_400_000),
      ]),
    );
    expect(await listPartitions(store.db, events)).toContain(partitionName(events, day));
    // The rows sit in their day's partition, not in DEFAULT.
    const inDay = await store.db
      .selectFrom(partitionName(touches, day) as 'touches')
      .select('touch_id')
      .execute();
    expect(inDay.map((r) => r.touch_id)).toEqual(['OLD-1']);
    expect((await store.ingest((tx) => tx.getEvent('ev_legacyKeyWithoutTime')))?.pk).toBe(
      'ev_legacyKeyWithoutTime',
    );
    // New rows keep numbering after the old ones.
    await store.insertTouches([
      {
        env_id: 'e',
        kind: 'impression',
        touch_id: 'NEW-1',
        dest_id: null,
        campaign_id: null,
        creative_id: null,
        placement_id: null,
        time: Math.floor(Date.now() / 1000),
        anonymous_id: 'a',
        user_id: null,
        ip: null,
        user_agent: null,
      },
    ]);
    const ids = await store.db
      .selectFrom('touches')
      .select(['id', 'touch_id'])
      .orderBy('id')
      .execute();
    expect(ids.map((r) => r.touch_id)).toEqual(['OLD-1', 'OLD-2', 'NEW-1']);
    const pk = await sql<{ def: string }>`
      SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'outbox'::regclass AND contype = 'p'`.execute(store.db);
    expect(pk.rows[0]?.def).toBe('PRIMARY KEY (id, env_id)');
  });
});
