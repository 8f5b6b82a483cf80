import fc from 'fast-check';
import { CompiledQuery, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { laneHeadsQuery, lanePagesQuery, leaseQuery } from '../../src/store/kysely/outbox-claim.js';
import type { Database } from '../../src/store/schema.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const NOW = 1_780_000_000_000;
const LEASE = 60_000;

type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

/** One outbox row as a test writes it: which lane, and how far along it is. */
interface Row {
  kind: string;
  env_id: string;
  dest_id: string;
  status: 'pending' | 'delivered' | 'dead';
  next_attempt_at_ms: number;
  lease_until_ms: number | null;
}

async function put(db: Kysely<Database>, rows: readonly Row[]): Promise<number[]> {
  const ids: number[] = [];
  for (const [i, r] of rows.entries()) {
    const got = await db
      .insertInto('outbox')
      .values({
        ...r,
        conversion_id: `c${i}`,
        attempts: 0,
        lease_owner: r.lease_until_ms === null ? null : 'w-earlier',
        created_at_ms: NOW - 1000,
        updated_at_ms: NOW - 1000,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(Number(got.id));
  }
  return ids;
}

/**
 * The claim rule as the delivery docs state it, row by row: of one kind's pending rows, each
 * lane (environment, destination) not paused gives its rows in id order up to the first one
 * that is not due or is leased; the claim takes the oldest `limit` of those.
 */
function reference(
  rows: readonly Row[],
  ids: readonly number[],
  kind: string,
  paused: ReadonlySet<string>,
  limit: number,
): number[] {
  const lanes = new Map<string, number[]>();
  const blocked = new Set<number>();
  for (const [i, r] of rows.entries()) {
    if (r.kind !== kind || r.status !== 'pending') continue;
    const lane = `${r.env_id}/${r.dest_id}`;
    lanes.set(lane, [...(lanes.get(lane) ?? []), ids[i]]);
    const due = r.next_attempt_at_ms <= NOW;
    const leased = r.lease_until_ms !== null && r.lease_until_ms >= NOW;
    if (!due || leased) blocked.add(ids[i]);
  }
  const free: number[] = [];
  for (const [lane, laneIds] of lanes) {
    if (paused.has(lane)) continue;
    for (const id of laneIds.sort((a, b) => a - b)) {
      if (blocked.has(id)) break;
      free.push(id);
    }
  }
  return free.sort((a, b) => a - b).slice(0, limit);
}

// Environments and destinations that are prefixes of one another, so that walking the lanes
// in (environment, destination) order is put to the test.
const LANES = [
  ['e', 'a'],
  ['e', 'ab'],
  ['e', 'b'],
  ['e1', 'a'],
  ['ea', ''],
] as const;
const KINDS = ['conversion', 'audience_sync'] as const;

const rowArb: fc.Arbitrary<Row> = fc
  .record({
    lane: fc.constantFrom(...LANES),
    kind: fc.constantFrom(...KINDS),
    status: fc.constantFrom('pending', 'pending', 'pending', 'pending', 'delivered', 'dead'),
    due: fc.constantFrom(-5000, -1, 0, 0, 0, 1, 30_000),
    lease: fc.constantFrom(null, null, null, -1, 0, 5000),
  })
  .map((r) => ({
    kind: r.kind,
    env_id: r.lane[0],
    dest_id: r.lane[1],
    status: r.status as Row['status'],
    next_attempt_at_ms: NOW + r.due,
    lease_until_ms: r.lease === null ? null : NOW + r.lease,
  }));

const queueArb = fc.record({
  rows: fc.array(rowArb, { maxLength: 40 }),
  kind: fc.constantFrom(...KINDS),
  paused: fc.subarray(LANES.map(([e, d]) => `${e}/${d}`)),
  limit: fc.integer({ min: 1, max: 12 }),
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`outbox claim on ${kind}`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await STORE_KINDS[kind]();
    });
    afterAll(() => opened?.dispose());

    it('OC01 leases exactly what the head-of-line rule allows, on random queues', async () => {
      const { store } = opened;
      const db = store.db;
      await fc.assert(
        fc.asyncProperty(queueArb, async (q) => {
          await db.deleteFrom('outbox').execute();
          const ids = await put(db, q.rows);
          const paused = new Set(q.paused);
          const want = reference(q.rows, ids, q.kind, paused, q.limit);
          const got = await store.claimJobs(q.kind, NOW, q.limit, LEASE, 'w-prop', paused);
          expect(got.map((j) => j.outbox.id)).toEqual(want);
          // The claim leased those rows and touched no other.
          const leased = await db
            .selectFrom('outbox')
            .select(['id', 'lease_until_ms'])
            .where('lease_owner', '=', 'w-prop')
            .orderBy('id')
            .execute();
          expect(leased.map((r) => Number(r.id))).toEqual(want);
          for (const r of leased) expect(Number(r.lease_until_ms)).toBe(NOW + LEASE);
        }),
        { numRuns: kind === 'sqlite' ? 150 : 60 },
      );
    });

    it('OC02 lanes are found and read through outbox_lanes and rows leased by id, never by reading or sorting the backlog', async () => {
      const db = opened.store.db;
      await db.deleteFrom('outbox').execute();
      // A paused destination's backlog and a long history of finished rows: with them the
      // planner's choice is the one a real queue gets.
      const backlog = 5000;
      const rows: Row[] = [];
      for (let i = 0; i < backlog; i++) {
        rows.push(
          { ...rowOf('e', 'paused'), status: 'pending' },
          { ...rowOf('e', 'a'), status: i % 2 ? 'delivered' : 'dead' },
        );
      }
      rows.push(rowOf('e', 'a'), rowOf('e', 'b'));
      await putMany(db, rows);
      if (kind === 'postgres') await db.executeQuery(CompiledQuery.raw('ANALYZE outbox'));
      // The walk over the lanes: every read of outbox in it a seek into outbox_lanes (or the
      // row by id), none a scan; SQLite would seek a row value `(env_id, dest_id) > (?, ?)`
      // by env_id alone, so the steps seek column by column.
      const walk = await explain(db, kind, laneHeadsQuery(kind, 'conversion').compile(db));
      expect(walk).toMatch(/outbox_lanes/);
      expect(walk).not.toMatch(kind === 'sqlite' ? /\bSCAN (outbox|o)\b/ : /Seq Scan on outbox/);
      if (kind === 'sqlite') {
        expect(walk).toMatch(/outbox_lanes \(kind=\? AND env_id=\? AND dest_id>\?\)/);
        expect(walk).toMatch(/outbox_lanes \(kind=\? AND env_id>\?\)/);
      } else {
        // PostgreSQL's B-tree seeks the row value by both columns.
        expect(walk).toMatch(
          /Index Cond: .*ROW\(env_id, dest_id\) > ROW\(l\w*\.env_id, l\w*\.dest_id\)/,
        );
      }
      // Each lane query with the index bounds it must seek by.
      const cases: [string, CompiledQuery, RegExp, RegExp][] = [
        [
          "a lane's rows",
          lanePagesQuery(kind, 'conversion', [
            { env_id: 'e', dest_id: 'a', after: 0, page: 16 },
            { env_id: 'e', dest_id: 'b', after: 0, page: 16 },
          ]).compile(db),
          /outbox_lanes \(kind=\? AND env_id=\? AND dest_id=\? AND (rowid|id)>\?\)/,
          /Index Cond: \(\(kind = .*\) AND \(env_id = .*\) AND \(dest_id = .*\) AND \(id > /,
        ],
        [
          'the lease',
          leaseQuery(db, [1, 2, 3], NOW, LEASE, 'w').compile(),
          /USING INTEGER PRIMARY KEY \(rowid=\?\)/,
          /Index Cond: \(id = ANY /,
        ],
      ];
      for (const [what, q, sqliteBounds, pgBounds] of cases) {
        const plan = await explain(db, kind, q);
        expect(plan, what).toMatch(kind === 'sqlite' ? sqliteBounds : pgBounds);
        if (what !== 'the lease') expect(plan, what).toMatch(/outbox_lanes/);
        // No sort of the rows found: the index gives them in lane and id order.
        expect(plan, what).not.toMatch(kind === 'sqlite' ? /TEMP B-TREE/ : /\bSort\b/);
      }
    });

    it('OC04 renewals side by side: each says the owner holds the rows it holds', async () => {
      const { store } = opened;
      const db = store.db;
      await db.deleteFrom('outbox').execute();
      const ids = await put(db, [rowOf('e', 'a'), rowOf('e', 'a'), rowOf('e', 'b')]);
      expect(await store.claimJobs('conversion', NOW, 10, LEASE, 'w-r', new Set())).toHaveLength(3);
      // The worker's renewal timer and an attempt's re-lease run at once, to different times.
      const [a, b] = await Promise.all([
        store.extendLeases('w-r', ids, NOW + 5000),
        store.extendLeases('w-r', ids.slice(0, 2), NOW + 7000),
      ]);
      expect([a.sort((x, y) => x - y), b.sort((x, y) => x - y)]).toEqual([ids, ids.slice(0, 2)]);
      // Another owner holds none of them; a finished row is no longer held.
      expect(await store.extendLeases('w-other', ids, NOW + 9000)).toEqual([]);
      await db
        .updateTable('outbox')
        .set({ status: 'delivered' })
        .where('id', '=', ids[2])
        .execute();
      expect((await store.extendLeases('w-r', ids, NOW + 9000)).sort((x, y) => x - y)).toEqual(
        ids.slice(0, 2),
      );
    });

    it('OC05 many free lanes and long ones: the oldest rows, within the limit', async () => {
      const { store } = opened;
      const db = store.db;
      await db.deleteFrom('outbox').execute();
      // 120 lanes of 3 free rows, one lane of 600 free rows, one of 1 free row then held rows:
      // more lanes than one read takes, and lanes longer than a page.
      const rows: Row[] = [];
      for (let i = 0; i < 600; i++) rows.push(rowOf('long', 'd'));
      for (let l = 0; l < 120; l++) for (let i = 0; i < 3; i++) rows.push(rowOf(`t${l}`, 'd'));
      rows.push(rowOf('held', 'd'));
      for (let i = 0; i < 40; i++)
        rows.push({ ...rowOf('held', 'd'), next_attempt_at_ms: NOW + 1 });
      await putMany(db, rows);
      const all = (await db.selectFrom('outbox').select('id').orderBy('id').execute()).map((r) =>
        Number(r.id),
      );
      for (const limit of [1, 17, 500, 2000]) {
        await db.updateTable('outbox').set({ lease_owner: null, lease_until_ms: null }).execute();
        const got = await store.claimJobs('conversion', NOW, limit, LEASE, 'w-many', new Set());
        // Every row but the 40 held ones is free, and ids follow the order of `rows`.
        expect(got.map((j) => j.outbox.id)).toEqual(all.slice(0, 600 + 360 + 1).slice(0, limit));
      }
    });

    it.runIf(kind === 'postgres')(
      'OC03 a row that stops being free while it is leased is not overtaken by its lane',
      async () => {
        const { store, url } = opened;
        const db = store.db;
        await db.deleteFrom('outbox').execute();
        const [a1, a2, a3, b1] = await put(db, [
          // a1's worker ran out of lease, so the claim reads a1 as free.
          { ...rowOf('e', 'a'), lease_until_ms: NOW - 1 },
          rowOf('e', 'a'),
          rowOf('e', 'a'),
          rowOf('e', 'b'),
        ]);
        // a1's worker, late, is recording a failed attempt: it holds the row's lock.
        const late = new pg.Client({ connectionString: url });
        await late.connect();
        try {
          await late.query('BEGIN');
          await late.query('SELECT id FROM outbox WHERE id = $1 FOR UPDATE', [a1]);
          const claim = store.claimJobs('conversion', NOW, 50, LEASE, 'w-new', new Set());
          // The claim has read the lanes and now waits on a1's lock (a claim that never
          // waits fails here, within the time allowed).
          const until = Date.now() + 10_000;
          while (
            (
              await late.query(
                `SELECT 1 FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'`,
              )
            ).rowCount === 0
          ) {
            if (Date.now() > until) throw new Error('the claim never waited on the held row');
            await new Promise((r) => setImmediate(r));
          }
          await late.query(
            `UPDATE outbox SET next_attempt_at_ms = $2, lease_until_ms = NULL,
             lease_owner = NULL, attempts = attempts + 1 WHERE id = $1`,
            [a1, NOW + 30_000],
          );
          await late.query('COMMIT');
          // a1 now backs off: a2 and a3 wait behind it, unleased; lane b goes out.
          expect((await claim).map((j) => j.outbox.id)).toEqual([b1]);
          const held = await db
            .selectFrom('outbox')
            .select(['id', 'lease_owner'])
            .where('id', 'in', [a2, a3])
            .orderBy('id')
            .execute();
          expect(held).toEqual([
            { id: a2, lease_owner: null },
            { id: a3, lease_owner: null },
          ]);
          expect(
            await store.claimJobs('conversion', NOW + 30_000, 50, LEASE, 'w-2', new Set()),
          ).toHaveLength(3);
        } finally {
          await late.end();
        }
      },
    );
  });
}

function rowOf(env_id: string, dest_id: string): Row {
  return {
    kind: 'conversion',
    env_id,
    dest_id,
    status: 'pending',
    next_attempt_at_ms: NOW - 1,
    lease_until_ms: null,
  };
}

async function putMany(db: Kysely<Database>, rows: readonly Row[]): Promise<void> {
  const values = rows.map((r, i) => ({
    ...r,
    conversion_id: `m${i}`,
    attempts: 0,
    created_at_ms: NOW - 1000,
    updated_at_ms: NOW - 1000,
  }));
  for (let i = 0; i < values.length; i += 500) {
    await db
      .insertInto('outbox')
      .values(values.slice(i, i + 500))
      .execute();
  }
}

async function explain(
  db: Kysely<Database>,
  kind: 'sqlite' | 'postgres',
  q: CompiledQuery,
): Promise<string> {
  const prefix = kind === 'sqlite' ? 'EXPLAIN QUERY PLAN ' : 'EXPLAIN ';
  const r = await db.executeQuery<Record<string, unknown>>(
    CompiledQuery.raw(prefix + q.sql, [...q.parameters]),
  );
  return r.rows.map((row) => String(row.detail ?? row['QUERY PLAN'])).join('\n');
}
