import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import { journeyPageQuery } from '../../src/store/kysely/journeys.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { dayOfPartition, PARTITIONED } from '../../src/store/partitions.js';
import type { Database } from '../../src/store/schema.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// PostgreSQL reads touches in time order through touches_by_env_time (0042). The migration
// makes it ON ONLY the partitioned table, so partitions that already hold touches are indexed
// by the upkeep, one at a time, without blocking writes. Without the index, each page of the
// attribution report's journeys read and sorted every touch after its cursor: 28 s for the
// demo's 1,000,000 touches, against 3 s.

const hasPostgres = await postgresAvailable();
const TOUCHES =
  PARTITIONED.find((t) => t.name === 'touches') ??
  (() => {
    throw new Error('touches are not partitioned');
  })();
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

/**
 * A transaction that wrote a touch into each of `partitions` and stays open until `release`:
 * an index build on one of them waits for it (as for a batch of pixels being committed).
 */
async function heldWriter(url: string, partitions: readonly string[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('begin');
  for (const [i, name] of partitions.entries()) {
    const day = dayOfPartition(TOUCHES, name);
    const time = day === null ? NOW_S - 200 * D : day / 1000 + 60;
    await c.query(
      `insert into touches (env_id, kind, touch_id, time) values ('env_pi', 'impression', $1, $2)`,
      [`held-${i}`, time],
    );
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await c.query('commit');
    await c.end();
  };
  onTestFinished(release);
  return { release };
}

/** Whether an index build on `partition` is in progress. */
async function building(client: pg.Client, partition: string): Promise<boolean> {
  const r = await client.query(
    'select 1 from pg_stat_progress_create_index where relid = to_regclass($1)',
    [partition],
  );
  return r.rows.length > 0;
}

/** The partition an index build is in progress on, if any. */
async function buildingAny(client: pg.Client): Promise<string | undefined> {
  const r = await client.query<{ name: string }>(
    'select relid::regclass::text as name from pg_stat_progress_create_index',
  );
  return r.rows[0]?.name;
}

/** Polls `check` until it gives a truthy value (the test's own timeout bounds it). */
async function until<T>(check: () => Promise<T>): Promise<NonNullable<T>> {
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 20));
  }
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

    expect(await store.buildPartitionIndexes()).toEqual({
      attached: before.missing.length,
      failed: [],
    });
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
    expect(await store.buildPartitionIndexes()).toEqual({ attached: 0, failed: [] });

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
    expect((await store.buildPartitionIndexes()).attached).toBe(missing.length);
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
    const def = await client.query<{ d: string }>(
      `select pg_get_indexdef('touches_default_by_env_time'::regclass) as d`,
    );
    expect(def.rows[0]?.d).toMatch(/\(env_id, "time", id\)$/);
  });

  it('PI03 a partition whose index another process is building is left to it', async () => {
    const { store, client, url } = await opened();
    const { missing } = await indexState(client);
    // A writer holds the other process's build at its wait for the partition's writers.
    const writer = await heldWriter(url, ['touches_default']);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    onTestFinished(() => other.end());
    const theirs = other.query(
      'create index concurrently touches_default_by_env_time on touches_default (env_id, "time", id)',
    );
    await until(() => building(client, 'touches_default'));

    expect(await store.buildPartitionIndexes()).toEqual({
      attached: missing.length - 1,
      failed: [],
    });
    expect((await indexState(client)).missing).toEqual(['touches_default']);
    await writer.release();
    await theirs;
    // Built by the other; the next run attaches it.
    expect(await store.buildPartitionIndexes()).toEqual({ attached: 1, failed: [] });
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
  });

  it('PI04 a close cancels the build it waits for; the next run makes that index again', async () => {
    const { store, client, url } = await opened();
    const { missing } = await indexState(client);
    const writer = await heldWriter(url, missing);
    const stop = new AbortController();
    const run = store.buildPartitionIndexes(stop.signal);
    // The first partition's build is waiting for the writer.
    const first = await until(() => buildingAny(client));
    stop.abort();
    expect(await run).toEqual({ attached: 0, failed: [] });
    // The cancelled build left its index invalid.
    const left = await client.query<{ v: boolean }>(
      'select indisvalid as v from pg_index where indexrelid = to_regclass($1)',
      [`${first}_by_env_time`],
    );
    expect(left.rows[0]?.v).toBe(false);
    await writer.release();

    expect(await store.buildPartitionIndexes()).toEqual({ attached: missing.length, failed: [] });
    expect(await indexState(client)).toEqual({ valid: true, missing: [] });
  });

  it('PI05 a partition that cannot be indexed does not stop the others', async () => {
    const { store, client } = await opened();
    const { missing } = await indexState(client);
    // An index of the name the build would give, on other columns: ATTACH refuses it.
    await client.query('create index touches_default_by_env_time on touches_default (env_id)');
    const run = await store.buildPartitionIndexes();
    expect(run.attached).toBe(missing.length - 1);
    expect(run.failed.map((f) => f.partition)).toEqual(['touches_default']);
    expect((await indexState(client)).missing).toEqual(['touches_default']);
  });

  it('PD01 retention does not wait on a partition a reader holds: it drops it at the next run', async () => {
    const { store, client, url } = await opened();
    const DAY_MS = 86_400_000;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    await store.ensurePartitions(today - 40 * DAY_MS);
    await store.insertTouches([touch(1, (today - 40 * DAY_MS) / 1000 + 60)]);
    const name = (
      await client.query<{ t: string }>('select tableoid::regclass::text as t from touches')
    ).rows[0]?.t;
    expect(name).toMatch(/^touches_d\d{8}$/);
    // A report's transaction that read the partition keeps it locked until it ends.
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    onTestFinished(() => reader.end());
    await reader.query('begin');
    await reader.query(`select count(*) from "${name}"`);
    const cutoffs = {
      touches_before_s: (today - 30 * DAY_MS) / 1000,
      events_before_ms: 0,
      dedup_before_s: 0,
    };
    expect(await store.purge(cutoffs)).toMatchObject({ touches: 0 });
    // Inserts into other days went on meanwhile (the drop gave up its wait).
    await store.insertTouches([touch(2, Math.floor(Date.now() / 1000))]);
    await reader.query('commit');
    expect(await store.purge(cutoffs)).toMatchObject({ touches: 1 });
    expect((await store.counts('env_pi')).touches).toBe(1);
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
          read +=
            (Number(n['Actual Rows'] ?? 0) + Number(n['Rows Removed by Filter'] ?? 0)) *
            Number(n['Actual Loops'] ?? 1);
        for (const v of Object.values(n)) if (typeof v === 'object') walk(v);
      }
    };
    walk(explained.rows[0]?.['QUERY PLAN']);
    // The 50 it returns and the next one (read or filtered out), against the 1,099 after the
    // cursor.
    expect(read).toBeGreaterThanOrEqual(50);
    expect(read).toBeLessThanOrEqual(60);
  });
});
