import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Kysely, Selectable } from 'kysely';
import { receivedMsOfKey } from '../../domain/event-key.js';
import type { Dialect } from '../migrations.js';
import type { OutboxPort } from '../ports/outbox.js';
import type { Database } from '../schema.js';
import type { AttemptRecord, ClaimedDelivery, ClaimedJob, OutboxUpdate } from '../store.js';
import { holdClaims } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';
import { type ConversionRow, type EventRow, withRideAlong } from './ingest-sql.js';
import { runText } from './ingest-statements.js';
import { leaseFree, PENDING } from './outbox-claim.js';
import {
  attemptValues,
  finishStatement,
  HELD_IDS,
  INSERT_ATTEMPTS,
  RENEW_LEASES,
} from './outbox-sql.js';
import { conversionFromRow, eventFromRow, outboxFromRow } from './row-mappers.js';

/** Keys per `IN (…)` list when loading claimed rows. */
const LOAD_CHUNK = 500;
/** Claimed rows whose conversions, then events, are read per statement (see claimDeliveries). */
const CLAIM_LOAD_CHUNK = 200;
/** delivery_attempts rows an INSERT: 8 values each, under SQLite's bound-parameter limit. */
const ATTEMPT_ROWS = 100;

/**
 * Queues each conversion for `dest_id`, or queues it again: a row already there (sent, dead,
 * pending) starts over as pending, due at `due_ms`. One statement for all of `conversion_ids`.
 */
async function enqueue(
  db: Kysely<Database>,
  env_id: string,
  conversion_ids: readonly string[],
  dest_id: string,
  now_ms: number,
  due_ms = now_ms,
  raw_ip?: string,
) {
  if (conversion_ids.length === 0) return;
  await db
    .insertInto('outbox')
    .values(
      conversion_ids.map((conversion_id) => ({
        env_id,
        conversion_id,
        dest_id,
        raw_ip: raw_ip ?? null,
        status: 'pending',
        attempts: 0,
        next_attempt_at_ms: due_ms,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
      })),
    )
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
 * Conversions a replay queues a statement, with a turn of the event loop between statements.
 * One transaction for the whole range held the SQLite server for its length: 2.5 s for
 * 100,000 conversions, no pixel or event answered meanwhile (and another process's replay
 * held the file's write lock as long).
 */
export const REPLAY_PAGE_ROWS = 500;

/**
 * The delivery queue over Kysely; SQLite and PostgreSQL share every query. Claims never take
 * one row twice: they are serialised (`holdClaims`) and lease only rows still free.
 */
export class KyselyOutbox implements OutboxPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  /** Leases due rows of one kind, in id order (outbox-claim.ts: the rules and the reads). */
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
      return leaseFree(trx, this.dialect, { kind, now_ms, limit, lease_ms, owner, paused });
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
    // Set-wise reads instead of two per row: on PostgreSQL each is a round trip, and a round
    // of hundreds of rows must not spend its lease before the first send. A piece at a time,
    // the event loop turning between: 500 rows' conversions, events and their JSON held a
    // SQLite server about 25 ms in one go after a replay queued thousands.
    const convs = new Map<string, ConversionRow>();
    const events = new Map<string, EventRow>();
    for (const part of chunks(claimed, CLAIM_LOAD_CHUNK)) {
      await nextTurn();
      const rows = await this.db
        .selectFrom('conversions')
        .selectAll()
        .where('env_id', 'in', [...new Set(part.map((r) => r.env_id))])
        .where('conversion_id', 'in', [...new Set(part.map((r) => r.conversion_id))])
        .execute();
      for (const c of rows) convs.set(`${c.env_id}\u0000${c.conversion_id}\u0000${c.dest_id}`, c);
    }
    const pks = [...new Set([...convs.values()].map((c) => c.event_pk))];
    for (const part of chunks(pks, CLAIM_LOAD_CHUNK)) {
      await nextTurn();
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
    const db = this.db as unknown as Kysely<unknown>;
    for (const part of chunks(ids, LOAD_CHUNK)) {
      // Rows this owner holds (heldBy: found by id), renewed, then read back rather than by
      // RETURNING (outbox-claim.ts says why). The read asks who holds the row, not until
      // when: this owner's renewals run beside its sends, and a row renewed again in between
      // is held all the same.
      await runText(db, this.dialect, RENEW_LEASES(part.length), [until_ms, ...part, owner]);
      const rows = await runText<{ id: unknown }>(db, this.dialect, HELD_IDS(part.length), [
        ...part,
        owner,
      ]);
      for (const r of rows) held.push(Number(r.id));
    }
    return held;
  }

  async finishAttempts(
    entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      const db = trx as unknown as Kysely<unknown>;
      for (const part of chunks(entries, ATTEMPT_ROWS)) {
        await runText(
          db,
          this.dialect,
          INSERT_ATTEMPTS(part.length),
          part.flatMap((e) => attemptValues(e.attempt)),
        );
      }
      for (const { attempt, update } of entries) {
        const [text, params] = finishStatement(attempt, update);
        await runText(db, this.dialect, text, params);
      }
    });
  }

  // A lease matters only on a pending row (a claim takes no other), so both read the pending
  // rows alone, not the delivered history: a start-up no longer scans the whole outbox.
  async leaseOwners(now_ms: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select('lease_owner')
      .distinct()
      .where('status', '=', PENDING)
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
      .where('status', '=', PENDING)
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
    let queued = 0;
    // Up to now: pages of a range still open would pick up conversions ingest queues (and the
    // worker may have leased) meanwhile, and queue them again.
    const until = Math.min(to_ms, now_ms + 1);
    // Read by whole milliseconds: a page ends after the millisecond of the range's next
    // REPLAY_PAGE_ROWS-th conversion (any destination's, read off the time index alone), so
    // it needs no order inside a millisecond. A CSV import gives thousands of conversions the
    // same created_at_ms; pages ordered by (created_at_ms, conversion_id) sorted that whole
    // millisecond again for each page: 19 ms a page for 21,000 such conversions.
    let cursor = from_ms;
    let waiting: string[] = [];
    // Each statement queues REPLAY_PAGE_ROWS (the last fewer): a replay cut short leaves whole
    // statements queued, and running it again queues the range again (the platforms
    // deduplicate by event id).
    const queue = async (all: boolean) => {
      while (waiting.length >= REPLAY_PAGE_ROWS || (all && waiting.length > 0)) {
        const part = waiting.slice(0, REPLAY_PAGE_ROWS);
        waiting = waiting.slice(REPLAY_PAGE_ROWS);
        await enqueue(this.db, env_id, part, dest_id, now_ms);
        queued += part.length;
        await nextTurn();
      }
    };
    for (;;) {
      const edge = await this.db
        .selectFrom('conversions')
        .select('created_at_ms')
        .where('env_id', '=', env_id)
        .where('created_at_ms', '>=', cursor)
        .where('created_at_ms', '<', until)
        .orderBy('created_at_ms')
        .offset(REPLAY_PAGE_ROWS - 1)
        .limit(1)
        .executeTakeFirst();
      const end = edge ? Number(edge.created_at_ms) + 1 : until;
      const page = await this.db
        .selectFrom('conversions')
        .select('conversion_id')
        .where('env_id', '=', env_id)
        .where('dest_id', '=', dest_id)
        .where('attributed', '=', 1)
        .where('created_at_ms', '>=', cursor)
        .where('created_at_ms', '<', end)
        .execute();
      for (const c of page) waiting.push(c.conversion_id);
      await queue(!edge);
      if (!edge) return queued;
      cursor = end;
      await nextTurn();
    }
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
