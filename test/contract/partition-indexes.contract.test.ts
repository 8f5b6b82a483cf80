import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import { journeyPageQuery } from '../../src/store/kysely/journeys.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { BUILD_LOCK_KEY } from '../../src/store/partition-indexes.js';
import type { Database } from '../../src/store/schema.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// PostgreSQL reads touches in time order through touches_by_env_time (0042). The migration
// makes it ON ONLY the partitioned table, so partitions that already hold touches are indexed
// by the upkeep, one at a time, without blocking writes. Without the index, each page of the
// attribution report's journeys read and sorted every touch after its cursor: 28 s for the
// demo's 1,000,000 touches, against 3 s.

const hasPostgres = await postgresAvailable();
const NOW_S = Math.floor(Date.now() / 1000);
const D = 86_400;

function touch(i: number, time: number): Touch {
  return {
    env_id: 'env_pi',
    kind: 'impression',
    touch_id: `imp-${i}`,
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id: `anon-${i % 97}`,
    user_id: null,
    ip: null,
    user_agent: 'UA',
  };
}

async function opened() {
  const open = STORE_KINDS.postgres;
  if (!open) throw new Error('no postgres store kind');
  const { store, dispose, url } = await open();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onTestFinished(async () => {
    await client.end();
    await dispose();
  });
  return { store: store as KyselyStore, client, url: url ?? '' };
}

/** Whether the partitioned index is valid, and the partitions of touches still without one. */
async function indexState(client: pg.Client) {
  const valid = await client.query<{ v: boolean }>(
    `select indisvalid as v from pg_index where indexrelid = 'touches_by_env_time'::regclass`,
  );
  const missing = await client.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'touches'::regclass and not exists (
       select 1 from pg_inherits ii join pg_index x on x.indexrelid = ii.inhrelid
       where ii.inhparent = 'touches_by_env_time'::regclass and x.indrelid = c.oid)`,
  );
  return { valid: valid.rows[0]?.v, missing: missing.rows.map((r) => r.name) };
}

describe.skipIf(!hasPostgres)('partition indexes built by the upkeep (postgres)', () => {
  it('PI01 partitions that held touches before the index get theirs; later ones come with it', async () => {
    const { store, client } = await opened();
    // Past days live in the DEFAULT partition; it and today's and the next days' were made
    // before the index (the migrations make them).
    await store.insertTouches([touch(1, NOW_S - 20 * D), touch(2, NOW_S)]);
    const before = await indexState(client);
    expect(before.valid).toBe(false);
    expect(before.missing).toContain('touches_default');
    expect(before.missing.length).toBeGreaterThan(1);

    expect(await store.buildPartitionIndexes()).toBe(before.missing.length);
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
    expect(await store.buildPartitionIndexes()).toBe(0);

    // A day made after the index has its own at once.
    await store.ensurePartitions((NOW_S + 30 * D) * 1000);
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
  });

  it('PI02 an index a killed build left invalid is made again', async () => {
    const { store, client } = await opened();
    await store.insertTouches([touch(1, NOW_S - 20 * D), touch(2, NOW_S - 21 * D)]);
    // A concurrent build that fails leaves its index behind, invalid, as a killed one does.
    await expect(
      client.query(
        'create unique index concurrently touches_default_by_env_time on touches_default (env_id)',
      ),
    ).rejects.toThrow(/duplicate|could not create unique index/);
    const left = await client.query<{ v: boolean }>(
      `select indisvalid as v from pg_index where indexrelid = 'touches_default_by_env_time'::regclass`,
    );
    expect(left.rows[0]?.v).toBe(false);

    const missing = (await indexState(client)).missing;
    expect(missing).toContain('touches_default');
    expect(await store.buildPartitionIndexes()).toBe(missing.length);
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
    const def = await client.query<{ d: string }>(
      `select pg_get_indexdef('touches_default_by_env_time'::regclass) as d`,
    );
    expect(def.rows[0]?.d).toMatch(/\(env_id, "time", id\)$/);
  });

  it('PI03 one process builds at a time; a close stops the build between partitions', async () => {
    const { store, client } = await opened();
    const { missing } = await indexState(client);
    expect(missing).toContain('touches_default');
    await client.query('select pg_advisory_lock($1)', [BUILD_LOCK_KEY]);
    expect(await store.buildPartitionIndexes()).toBe(0);
    expect((await indexState(client)).missing).toEqual(missing);
    await client.query('select pg_advisory_unlock($1)', [BUILD_LOCK_KEY]);

    const stop = new AbortController();
    stop.abort();
    expect(await store.buildPartitionIndexes(stop.signal)).toBe(0);
    expect((await indexState(client)).missing).toEqual(missing);
    expect(await store.buildPartitionIndexes()).toBe(missing.length);
  });

  it('PJ01 a page of journey touches reads its own rows, not every touch after its cursor', async () => {
    const { store, url } = await opened();
    const touches = Array.from({ length: 1200 }, (_, i) => touch(i, NOW_S - 25 * D + i * 1000));
    await store.insertTouches(touches);
    await store.buildPartitionIndexes();
    await store.refreshStatistics();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    onTestFinished(() => db.destroy());
    const after = { time: NOW_S - 25 * D + 100 * 1000, id: 101 };
    const page = journeyPageQuery(db, 'postgres', 'env_pi', NOW_S - 30 * D, NOW_S + D, after, 50);
    const rows = JSON.parse((await page.executeTakeFirst())?.page ?? '[]') as unknown[][];
    expect(rows.map((r) => r[2])).toEqual(touches.slice(101, 151).map((t) => t.touch_id));

    const { sql, parameters } = page.compile();
    const explained = await db.executeQuery<{ 'QUERY PLAN': unknown }>({
      sql: `explain (analyze, format json) ${sql}`,
      parameters,
      query: page.toOperationNode(),
      queryId: { queryId: 'pj01' },
    });
    // Rows each scan of a touch partition gave, over its loops.
    let read = 0;
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) for (const n of node) walk(n);
      else if (node && typeof node === 'object') {
        const n = node as Record<string, unknown>;
        if (
          typeof n['Relation Name'] === 'string' &&
          String(n['Relation Name']).startsWith('touches')
        )
          read += Number(n['Actual Rows'] ?? 0) * Number(n['Actual Loops'] ?? 1);
        for (const v of Object.values(n)) if (typeof v === 'object') walk(v);
      }
    };
    walk(explained.rows[0]?.['QUERY PLAN']);
    // The 50 it returns and the next one, against the 1,099 after the cursor.
    expect(read).toBeGreaterThanOrEqual(50);
    expect(read).toBeLessThanOrEqual(60);
  });
});
