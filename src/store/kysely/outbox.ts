import { type Kysely, type Selectable, sql } from 'kysely';
import { receivedMsOfKey } from '../../domain/event-key.js';
import type { Dialect } from '../migrations.js';
import type { OutboxPort } from '../ports/outbox.js';
import type { Database } from '../schema.js';
import type { AttemptRecord, ClaimedDelivery, ClaimedJob, OutboxUpdate } from '../store.js';
import { holdClaims } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';
import { type ConversionRow, type EventRow, withRideAlong } from './ingest-sql.js';
import { conversionFromRow, eventFromRow, outboxFromRow } from './row-mappers.js';

/** Keys per `IN (…)` list when loading claimed rows. */
const LOAD_CHUNK = 500;

async function enqueue(
  db: Kysely<Database>,
  env_id: string,
  conversion_id: string,
  dest_id: string,
  now_ms: number,
  due_ms = now_ms,
  raw_ip?: string,
) {
  await db
    .insertInto('outbox')
    .values({
      env_id,
      conversion_id,
      dest_id,
      raw_ip: raw_ip ?? null,
      status: 'pending',
      attempts: 0,
      next_attempt_at_ms: due_ms,
      created_at_ms: now_ms,
      updated_at_ms: now_ms,
    })
    .onConflict((oc) =>
      oc.columns(['env_id', 'conversion_id', 'dest_id']).doUpdateSet({
        status: 'pending',
        next_attempt_at_ms: due_ms,
        lease_until_ms: null,
        lease_owner: null,
        attempts: 0,
        first_attempt_at_ms: null,
        updated_at_ms: now_ms,
        ...(raw_ip ? { raw_ip } : {}),
      }),
    )
    .execute();
}

/**
 * `status = 'pending'` as a literal, not a parameter: SQLite and PostgreSQL use the partial
 * index `outbox_lanes` (`where status = 'pending'`) only for a query that says so itself.
 */
const PENDING = sql.lit('pending');

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

/**
 * The oldest pending row of every lane (environment, destination) of `kind` that has one, in
 * one statement: a loose index scan over `outbox_lanes`, each step a few seeks in the
 * database (the next destination of the environment, else the first of the next
 * environment), however many rows each lane holds. One statement, not a statement per lane:
 * 1,000 lanes cost a walk of separate seeks 80 ms on SQLite (Kysely's cost per query) and
 * 125-255 ms on PostgreSQL (a round trip each).
 *
 * The steps seek with `min()` column by column rather than by a row value: SQLite seeks
 * `(env_id, dest_id) > (?, ?)` by env_id alone, stepping over the environment's earlier
 * lanes. The walk ends on a row of nulls, which the final select leaves out.
 */
export function laneHeadsQuery(dialect: Dialect, kind: string) {
  const pending = sql`from "outbox" where "status" = ${PENDING} and "kind" = ${kind}`;
  const nextDest = sql`(select min("dest_id") ${pending}
    and "env_id" = "l"."env_id" and "dest_id" > "l"."dest_id")`;
  const nextEnv = sql`(select min("env_id") ${pending} and "env_id" > "l"."env_id")`;
  const lane = sql`${pending} and "env_id" = "l"."env_id" and "dest_id" = "l"."dest_id"`;
  const columns = sql`"id", "env_id", "dest_id", "next_attempt_at_ms", "lease_until_ms"`;
  // Each lane's oldest row: by its id on SQLite (the rowid), by a lateral read on PostgreSQL,
  // whose planner would otherwise hash-join the lanes against a scan of the whole outbox.
  const heads =
    dialect === 'postgres'
      ? sql`select "h".* from "l" cross join lateral
          (select ${columns} ${lane} order by "id" limit 1) as "h"`
      : sql`select ${columns} from "outbox" where "id" in
          (select (select min("id") ${lane}) from "l" where "l"."env_id" is not null)`;
  return sql<LaneRow>`with recursive "l" ("env_id", "dest_id") as (
      select "f"."e", (select min("dest_id") ${pending} and "env_id" = "f"."e")
        from (select min("env_id") as "e" ${pending}) as "f"
      union all
      select coalesce(case when ${nextDest} is not null then "l"."env_id" end, ${nextEnv}),
        coalesce(${nextDest}, (select min("dest_id") ${pending} and "env_id" = ${nextEnv}))
        from "l" where "l"."env_id" is not null
    )
    ${heads}`;
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

/** A row `owner` holds until `until_ms`, as one CASE: the rows are found by id. */
function heldBy(owner: string, until_ms: number) {
  return sql<boolean>`case when ${sql.ref('lease_owner')} = ${owner}
    and ${sql.ref('lease_until_ms')} = ${until_ms} then 1 else 0 end = 1`;
}

/**
 * The rows of `ids` that `owner` holds until `until_ms`, read back after an update in the
 * same transaction. Not the update's RETURNING: on SQLite 3.53, `UPDATE … WHERE id IN (…)
 * RETURNING` costs in proportion to the table (1.3 ms for 50 rows of 200,000, against 16 µs
 * without the clause and 0.1 ms for this read), and an outbox keeps its delivered history.
 */
function heldRows(
  db: Kysely<Database>,
  ids: readonly number[],
  owner: string,
  until_ms: number,
): Promise<Selectable<Database['outbox']>[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('id', 'in', [...ids])
    .where(heldBy(owner, until_ms))
    .orderBy('id')
    .execute();
}

/** The first `limit` pending rows of one lane, oldest first. */
export function laneRowsQuery(db: Kysely<Database>, kind: string, lane: LaneRow, limit: number) {
  return db
    .selectFrom('outbox')
    .select(['id', 'env_id', 'dest_id', 'next_attempt_at_ms', 'lease_until_ms'])
    .where('status', '=', PENDING)
    .where('kind', '=', kind)
    .where('env_id', '=', lane.env_id)
    .where('dest_id', '=', lane.dest_id)
    .orderBy('id')
    .limit(limit);
}

/**
 * The delivery queue over Kysely; SQLite and PostgreSQL share every query. Claims never take
 * one row twice: they are serialised (`holdClaims`) and lease only rows still free.
 */
export class KyselyOutbox implements OutboxPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Leases due rows of one kind, in id order. Per destination and kind, rows go out in id
   * order: a row waits while an older row of its lane is backing off or in flight
   * (head-of-line, bounded by the retry budget).
   *
   * The claim finds the lanes that have pending rows, with each one's oldest row, in one walk
   * over `outbox_lanes` (laneHeadsQuery) and reads a lane only up to its first row that is not
   * free, at most `limit` rows: a
   * round costs in proportion to lanes and rows claimed, not to the backlog. A paused lane
   * or one whose oldest row is backing off costs a few seeks, whatever it holds.
   */
  private claimRows(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<Selectable<Database['outbox']>[]> {
    return this.db.transaction().execute(async (trx) => {
      // Claims are serialised across processes, so that two workers never both see a
      // destination's head row as free and send its rows side by side, out of order.
      await holdClaims(trx, this.dialect);
      const found: { id: number; lane: string }[] = [];
      const heads = (await laneHeadsQuery(this.dialect, kind).execute(trx)).rows;
      for (const head of heads) {
        const lane = `${head.env_id}/${head.dest_id}`;
        if (paused.has(lane) || !isFree(head, now_ms)) continue;
        for (const r of await laneRowsQuery(trx, kind, head, limit).execute()) {
          if (!isFree(r, now_ms)) break;
          found.push({ id: Number(r.id), lane });
        }
      }
      const chosen = found.sort((a, b) => a.id - b.id).slice(0, limit);
      if (chosen.length === 0) return [];
      // Free is checked again as the rows are leased. On PostgreSQL a row read above may
      // have changed since (a worker whose lease ran out recording its attempt); the update
      // waits for that worker's lock and then skips the row if it is no longer free.
      const ids = chosen.map((c) => c.id);
      await leaseQuery(trx, ids, now_ms, lease_ms, owner).execute();
      const leased = await heldRows(trx, ids, owner, now_ms + lease_ms);
      if (leased.length === chosen.length) return leased;
      // A row that was skipped must not be overtaken by the younger rows of its lane: they
      // go back unleased (as they were: free) and wait for a later round.
      const taken = new Set(leased.map((r) => Number(r.id)));
      const cutAt = new Map<string, number>();
      for (const c of chosen) if (!taken.has(c.id) && !cutAt.has(c.lane)) cutAt.set(c.lane, c.id);
      const behind = (r: Selectable<Database['outbox']>) =>
        Number(r.id) > (cutAt.get(`${r.env_id}/${r.dest_id}`) ?? Number.POSITIVE_INFINITY);
      const back = leased.filter(behind).map((r) => Number(r.id));
      if (back.length > 0) {
        await trx
          .updateTable('outbox')
          .set({ lease_until_ms: null, lease_owner: null })
          .where('id', 'in', back)
          .execute();
      }
      return leased.filter((r) => !behind(r));
    });
  }

  async claimJobs(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedJob[]> {
    const rows = await this.claimRows(kind, now_ms, limit, lease_ms, owner, paused);
    return rows
      .map((r) => ({ outbox: outboxFromRow(r), payload: JSON.parse(r.payload ?? 'null') }))
      .sort((a, b) => a.outbox.id - b.outbox.id);
  }

  async claimDeliveries(
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedDelivery[]> {
    const claimed = await this.claimRows('conversion', now_ms, limit, lease_ms, owner, paused);
    if (claimed.length === 0) return [];
    // Two set-wise reads instead of two per row: on PostgreSQL each is a round trip, and a
    // round of hundreds of rows must not spend its lease before the first send.
    const convs = new Map<string, ConversionRow>();
    const events = new Map<string, EventRow>();
    for (const part of chunks(claimed, LOAD_CHUNK)) {
      const rows = await this.db
        .selectFrom('conversions')
        .selectAll()
        .where('env_id', 'in', [...new Set(part.map((r) => r.env_id))])
        .where('conversion_id', 'in', [...new Set(part.map((r) => r.conversion_id))])
        .execute();
      for (const c of rows) convs.set(`${c.env_id}\u0000${c.conversion_id}\u0000${c.dest_id}`, c);
    }
    const pks = [...new Set([...convs.values()].map((c) => c.event_pk))];
    for (const part of chunks(pks, LOAD_CHUNK)) {
      const times = part.map(receivedMsOfKey);
      const rows = await this.db
        .selectFrom('events')
        .selectAll()
        .where('pk', 'in', part)
        // Names the partitions to read when every key carries its day (all new keys do).
        .$if(!times.includes(null), (q) =>
          q.where('received_at_ms', 'in', [...new Set(times as number[])]),
        )
        .execute();
      for (const e of rows) events.set(e.pk, e);
    }
    const out: ClaimedDelivery[] = [];
    for (const row of claimed) {
      const conv = convs.get(`${row.env_id}\u0000${row.conversion_id}\u0000${row.dest_id}`);
      const event = conv ? events.get(conv.event_pk) : undefined;
      if (conv && event) {
        const stored = eventFromRow(event).event;
        out.push({
          outbox: outboxFromRow(row),
          conversion: conversionFromRow(conv),
          event: withRideAlong(stored, row),
        });
      }
    }
    return out.sort((a, b) => a.outbox.id - b.outbox.id);
  }

  async extendLeases(owner: string, ids: readonly number[], until_ms: number): Promise<number[]> {
    const held: number[] = [];
    for (const part of chunks(ids, LOAD_CHUNK)) {
      // The owner and status in one CASE, so that the rows are found by id (leaseQuery says
      // why), and read back after the update (heldRows says why not RETURNING). No
      // transaction is needed around the two: a row this owner holds until `until_ms` after
      // the update is one no other worker can take before then.
      await this.db
        .updateTable('outbox')
        .set({ lease_until_ms: until_ms })
        .where('id', 'in', [...part])
        .where(
          sql<boolean>`case when ${sql.ref('lease_owner')} = ${owner}
            and ${sql.ref('status')} = ${PENDING} then 1 else 0 end = 1`,
        )
        .execute();
      const rows = await this.db
        .selectFrom('outbox')
        .select('id')
        .where('id', 'in', [...part])
        .where(heldBy(owner, until_ms))
        .execute();
      for (const r of rows) held.push(Number(r.id));
    }
    return held;
  }

  async finishAttempts(
    entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('delivery_attempts')
        .values(entries.map((e) => e.attempt))
        .execute();
      for (const { attempt: a, update } of entries) {
        await trx
          .updateTable('outbox')
          .set((eb) => ({
            status: update.status,
            attempts: eb('attempts', '+', 1),
            first_attempt_at_ms: eb.fn.coalesce('first_attempt_at_ms', eb.val(a.at_ms)),
            next_attempt_at_ms:
              update.status === 'pending'
                ? update.next_attempt_at_ms
                : eb.ref('next_attempt_at_ms'),
            lease_until_ms: null,
            lease_owner: null,
            last_status: a.status_code,
            last_error: a.error,
            updated_at_ms: a.at_ms + a.duration_ms,
            delivered_at_ms: update.status === 'delivered' ? a.at_ms + a.duration_ms : null,
            // The raw IP lives only as long as the delivery that needs it.
            raw_ip: update.status === 'pending' ? eb.ref('raw_ip') : null,
            clear_user: update.status === 'pending' ? eb.ref('clear_user') : null,
            failed_for: update.status === 'failed' ? (update.failed_for ?? null) : null,
            payload:
              update.status === 'delivered' && update.payload !== undefined
                ? update.payload
                : eb.ref('payload'),
          }))
          .where('id', '=', a.outbox_id)
          .execute();
      }
    });
  }

  async leaseOwners(now_ms: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select('lease_owner')
      .distinct()
      .where('lease_until_ms', '>=', now_ms)
      .where('lease_owner', 'is not', null)
      .execute();
    return rows.map((r) => r.lease_owner as string);
  }

  async releaseLeases(owners: readonly string[]): Promise<number> {
    if (owners.length === 0) return 0;
    const r = await this.db
      .updateTable('outbox')
      .set({ lease_until_ms: null, lease_owner: null })
      .where('lease_owner', 'in', [...owners])
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async pausedDestinations() {
    return this.db
      .selectFrom('destination_state')
      .select(['env_id', 'dest_id', 'reason'])
      .where('paused', '=', 1)
      .execute();
  }

  async setDestinationPaused(
    env_id: string,
    dest_id: string,
    paused: boolean,
    reason: string | null,
    now_ms: number,
  ) {
    await this.db
      .insertInto('destination_state')
      .values({ env_id, dest_id, paused: paused ? 1 : 0, reason, updated_at_ms: now_ms })
      .onConflict((oc) =>
        oc
          .columns(['env_id', 'dest_id'])
          .doUpdateSet({ paused: paused ? 1 : 0, reason, updated_at_ms: now_ms }),
      )
      .execute();
  }

  async retryDelivery(id: number, now_ms: number): Promise<boolean> {
    const r = await this.db
      .updateTable('outbox')
      .set({
        status: 'pending',
        next_attempt_at_ms: now_ms,
        first_attempt_at_ms: null,
        attempts: 0,
        lease_until_ms: null,
        lease_owner: null,
        updated_at_ms: now_ms,
      })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'failed'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async requeueRange(
    env_id: string,
    dest_id: string,
    from_ms: number,
    to_ms: number,
    now_ms: number,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const convs = await trx
        .selectFrom('conversions')
        .select('conversion_id')
        .where('env_id', '=', env_id)
        .where('dest_id', '=', dest_id)
        .where('attributed', '=', 1)
        .where('created_at_ms', '>=', from_ms)
        .where('created_at_ms', '<', to_ms)
        .execute();
      for (const c of convs) await enqueue(trx, env_id, c.conversion_id, dest_id, now_ms);
      return convs.length;
    });
  }

  async settleDeliveries(env_id: string, now_ms: number): Promise<number> {
    const r = await this.db
      .updateTable('outbox')
      .set({
        status: 'delivered',
        delivered_at_ms: now_ms,
        updated_at_ms: now_ms,
        // A finished row keeps no personal value, as finishAttempts and cancels ensure.
        raw_ip: null,
        clear_user: null,
      })
      .where('env_id', '=', env_id)
      .where('status', '=', 'pending')
      .where('kind', '=', 'conversion')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}
