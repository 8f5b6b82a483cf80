import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Dialect } from '../migrations.js';
import type { Database } from '../schema.js';

/**
 * The delivery claim's rule and its reads. Per destination and kind (a lane), rows go out in
 * id order: a row waits while an older row of its lane is backing off or in flight
 * (head-of-line, bounded by the retry budget). A round leases the oldest `limit` rows that the
 * rule lets go, of lanes not paused.
 *
 * A round must not cost in proportion to the queue: it runs on the event loop that answers
 * ingest, every few milliseconds while conversions arrive, and a paused destination (an
 * expired token) or an outage leaves its rows pending for hours. So the round finds each
 * lane's oldest pending row in one walk over the partial index `outbox_lanes` (pending rows
 * only, by kind, environment, destination and id), passes over a lane that is paused or whose
 * oldest row is not free without reading it, and reads the free lanes a page at a time, many
 * lanes a statement, only as far as their first row that is not free and no further than the
 * oldest `limit` rows found. Measured in bench/delivery-backlog.mjs.
 */

/**
 * `status = 'pending'` as a literal, not a parameter: SQLite and PostgreSQL use the partial
 * index `outbox_lanes` (`where status = 'pending'`) only for a query that says so itself.
 */
export const PENDING = sql.lit('pending');

/** What the claim reads of a lane's rows: where the row is, and whether it is free. */
export interface LaneRow {
  id: number | string;
  env_id: string;
  dest_id: string;
  next_attempt_at_ms: number | string;
  lease_until_ms: number | string | null;
}

/** A pending row may be sent now: it is due and no worker holds a lease on it. */
function isFree(r: LaneRow, now_ms: number): boolean {
  return (
    Number(r.next_attempt_at_ms) <= now_ms &&
    (r.lease_until_ms === null || Number(r.lease_until_ms) < now_ms)
  );
}

/** A lane's key inside a round; `\u0000` cannot occur in an id, unlike `/`. */
const laneOf = (r: { env_id: string; dest_id: string }) => `${r.env_id}\u0000${r.dest_id}`;

/**
 * The oldest pending row of every lane (environment, destination) of `kind` that has one, in
 * one statement: a loose index scan over `outbox_lanes`, each step a few seeks in the
 * database (the next destination of the environment, else the first of the next
 * environment), however many rows each lane holds. One statement, not a statement per lane:
 * 1,000 lanes cost a walk of separate seeks 80 ms on SQLite (Kysely's cost per query) and
 * 125-255 ms on PostgreSQL (a round trip each).
 *
 * On SQLite the steps seek with `min()` column by column rather than by a row value: SQLite
 * seeks `(env_id, dest_id) > (?, ?)` by env_id alone, stepping over the environment's earlier
 * lanes. That walk ends on a row of nulls, which the final select leaves out.
 */
export function laneHeadsQuery(dialect: Dialect, kind: string) {
  const pending = sql`from "outbox" where "status" = ${PENDING} and "kind" = ${kind}`;
  if (dialect === 'postgres') {
    // One seek a step: PostgreSQL's B-tree seeks a row value by both columns, and a lateral
    // read gives the next lane's oldest row itself: 8.5 ms for 1,000 lanes, against 17.7 ms
    // by the min() seeks below.
    return sql<LaneRow>`with recursive "l" as (
        (select ${COLUMNS} ${pending} order by "env_id", "dest_id", "id" limit 1)
        union all
        select "n".* from "l" cross join lateral (select ${COLUMNS} ${pending}
          and ("env_id", "dest_id") > ("l"."env_id", "l"."dest_id")
          order by "env_id", "dest_id", "id" limit 1) as "n"
      )
      select * from "l"`;
  }
  const nextDest = sql`(select min("dest_id") ${pending}
    and "env_id" = "l"."env_id" and "dest_id" > "l"."dest_id")`;
  const nextEnv = sql`(select min("env_id") ${pending} and "env_id" > "l"."env_id")`;
  const lane = sql`${pending} and "env_id" = "l"."env_id" and "dest_id" = "l"."dest_id"`;
  return sql<LaneRow>`with recursive "l" ("env_id", "dest_id") as (
      select "f"."e", (select min("dest_id") ${pending} and "env_id" = "f"."e")
        from (select min("env_id") as "e" ${pending}) as "f"
      union all
      select coalesce(case when ${nextDest} is not null then "l"."env_id" end, ${nextEnv}),
        coalesce(${nextDest}, (select min("dest_id") ${pending} and "env_id" = ${nextEnv}))
        from "l" where "l"."env_id" is not null
    )
    select ${COLUMNS} from "outbox" where "id" in
      (select (select min("id") ${lane}) from "l" where "l"."env_id" is not null)`;
}

const COLUMNS = sql`"id", "env_id", "dest_id", "next_attempt_at_ms", "lease_until_ms"`;

/** A page of one lane to read: its rows after id `after`, at most `page` of them. */
export interface LanePage {
  env_id: string;
  dest_id: string;
  after: number;
  page: number;
}

/** Lanes read in one statement. */
const LANES_PER_READ = 50;
/** A lane's first page: most lanes hold a few due rows, then rows not yet due. */
const FIRST_PAGE = 16;
/** Each further page of a lane that had only free rows is this many times the last. */
const PAGE_GROWTH = 4;

/**
 * The pages of `pages`, each lane's rows in id order, in one statement: on SQLite a compound
 * select of one arm a lane; on PostgreSQL a lateral read over arrays of the lanes, since
 * planning a compound select of 50 arms took PostgreSQL 40 ms.
 */
export function lanePagesQuery(dialect: Dialect, kind: string, pages: readonly LanePage[]) {
  if (dialect === 'postgres') {
    return sql<LaneRow>`select "p".* from unnest(
        ${pages.map((p) => p.env_id)}::text[], ${pages.map((p) => p.dest_id)}::text[],
        ${pages.map((p) => p.after)}::bigint[], ${pages.map((p) => p.page)}::int[])
        as "q" ("env_id", "dest_id", "after", "page")
      cross join lateral (select ${COLUMNS} from "outbox"
        where "status" = ${PENDING} and "kind" = ${kind} and "env_id" = "q"."env_id"
        and "dest_id" = "q"."dest_id" and "id" > "q"."after" order by "id" limit "q"."page")
        as "p"`;
  }
  return sql<LaneRow>`${sql.join(
    pages.map(
      (p, i) => sql`select * from (select ${COLUMNS} from "outbox"
        where "status" = ${PENDING} and "kind" = ${kind} and "env_id" = ${p.env_id}
        and "dest_id" = ${p.dest_id} and "id" > ${p.after} order by "id" limit ${p.page})
        as ${sql.id(`p${i}`)}`,
    ),
    sql` union all `,
  )}`;
}

interface Found {
  id: number;
  lane: string;
}

/**
 * The rows the rule lets go, oldest first, at most `limit`, with their lanes. Lanes are read
 * in the order of their oldest row; once `limit` rows are found, no row younger than the
 * youngest of them is read, and no lane whose oldest row is younger is read at all.
 */
async function findFree(trx: Transaction<Database>, dialect: Dialect, c: Claim): Promise<Found[]> {
  if (c.limit <= 0) return [];
  const heads = (await laneHeadsQuery(dialect, c.kind).execute(trx)).rows.filter(
    (h) => !c.paused.has(`${h.env_id}/${h.dest_id}`) && isFree(h, c.now_ms),
  );
  let queue: LanePage[] = heads.map((h) => ({
    env_id: h.env_id,
    dest_id: h.dest_id,
    after: Number(h.id) - 1,
    page: Math.min(c.limit, FIRST_PAGE),
  }));
  let found: Found[] = [];
  let cutoff = Number.POSITIVE_INFINITY;
  for (;;) {
    queue = queue.filter((p) => p.after + 1 < cutoff).sort((a, b) => a.after - b.after);
    if (queue.length === 0) break;
    const batch = queue.splice(0, LANES_PER_READ);
    const byLane = new Map<string, LaneRow[]>();
    for (const r of (await lanePagesQuery(dialect, c.kind, batch).execute(trx)).rows) {
      const rows = byLane.get(laneOf(r));
      if (rows) rows.push(r);
      else byLane.set(laneOf(r), [r]);
    }
    for (const p of batch) {
      const lane = laneOf(p);
      // In id order whatever order the statement's plan gave them.
      const rows = (byLane.get(lane) ?? [])
        .filter((r) => Number(r.id) > p.after)
        .sort((a, b) => Number(a.id) - Number(b.id));
      let last = p.after;
      let open = rows.length === p.page;
      for (const r of rows) {
        if (!isFree(r, c.now_ms)) {
          open = false;
          break;
        }
        last = Number(r.id);
        found.push({ id: last, lane });
      }
      // A full page of free rows: the lane may hold more.
      if (open) queue.push({ ...p, after: last, page: Math.min(c.limit, p.page * PAGE_GROWTH) });
    }
    if (found.length >= c.limit) {
      found = found.sort((a, b) => a.id - b.id).slice(0, c.limit);
      cutoff = found[c.limit - 1].id;
    }
  }
  return found.sort((a, b) => a.id - b.id).slice(0, c.limit);
}

/** One claim round's terms. */
export interface Claim {
  kind: string;
  now_ms: number;
  limit: number;
  lease_ms: number;
  owner: string;
  /** `env_id/dest_id` of the lanes not to claim. */
  paused: ReadonlySet<string>;
}

/**
 * Leases the rows the rule lets go (findFree) to `c.owner`, inside the caller's transaction,
 * which holds the claim lock; answers the rows leased.
 */
export async function leaseFree(
  trx: Transaction<Database>,
  dialect: Dialect,
  c: Claim,
): Promise<Selectable<Database['outbox']>[]> {
  const chosen = await findFree(trx, dialect, c);
  if (chosen.length === 0) return [];
  // Free is checked again as the rows are leased. On PostgreSQL a row read above may have
  // changed since (a worker whose lease ran out recording its attempt); the update waits for
  // that worker's lock and then skips the row if it is no longer free.
  const ids = chosen.map((f) => f.id);
  await leaseQuery(trx, ids, c.now_ms, c.lease_ms, c.owner).execute();
  const leased = await heldRows(trx, ids, c.owner);
  if (leased.length === chosen.length) return leased;
  // A row that was skipped must not be overtaken by the younger rows of its lane: they go
  // back unleased (as they were: free) and wait for a later round.
  const taken = new Set(leased.map((r) => Number(r.id)));
  const cutAt = new Map<string, number>();
  for (const f of chosen) if (!taken.has(f.id) && !cutAt.has(f.lane)) cutAt.set(f.lane, f.id);
  const behind = (r: Selectable<Database['outbox']>) =>
    Number(r.id) > (cutAt.get(laneOf(r)) ?? Number.POSITIVE_INFINITY);
  const back = leased.filter(behind).map((r) => Number(r.id));
  if (back.length > 0) {
    await trx
      .updateTable('outbox')
      .set({ lease_until_ms: null, lease_owner: null })
      .where('id', 'in', back)
      .execute();
  }
  return leased.filter((r) => !behind(r));
}

/**
 * Leases the rows of `ids` that are still free. They are found by id: the check that they
 * are free is one CASE so that no index on status or due time is offered to the planner, as
 * SQLite would otherwise take `outbox_due` and range over every pending row due (25 ms at
 * 200,000 rows, a paused destination's backlog) to find 50.
 */
export function leaseQuery(
  db: Kysely<Database>,
  ids: readonly number[],
  now_ms: number,
  lease_ms: number,
  owner: string,
) {
  return db
    .updateTable('outbox')
    .set({ lease_until_ms: now_ms + lease_ms, lease_owner: owner, updated_at_ms: now_ms })
    .where('id', 'in', [...ids])
    .where(
      sql<boolean>`case when ${sql.ref('status')} = ${PENDING}
        and ${sql.ref('next_attempt_at_ms')} <= ${now_ms}
        and (${sql.ref('lease_until_ms')} is null or ${sql.ref('lease_until_ms')} < ${now_ms})
        then 1 else 0 end = 1`,
    );
}

/** A pending row `owner` holds, as one CASE: the rows are found by id. */
export function heldBy(owner: string) {
  return sql<boolean>`case when ${sql.ref('lease_owner')} = ${owner}
    and ${sql.ref('status')} = ${PENDING} then 1 else 0 end = 1`;
}

/**
 * The rows of `ids` that `owner` holds, read back after an update in the same transaction.
 * Not the update's RETURNING: on SQLite 3.53, `UPDATE … WHERE id IN (…) RETURNING` costs in
 * proportion to the table (1.3 ms for 50 rows of 200,000, against 16 µs without the clause
 * and 0.1 ms for this read), and an outbox keeps its delivered history.
 */
function heldRows(
  db: Kysely<Database>,
  ids: readonly number[],
  owner: string,
): Promise<Selectable<Database['outbox']>[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('id', 'in', [...ids])
    .where(heldBy(owner))
    .orderBy('id')
    .execute();
}
