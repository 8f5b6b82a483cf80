import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Kysely, type QueryResult, type RawBuilder, sql } from 'kysely';
import type { Dialect } from '../migrations.js';
import type { Database } from '../schema.js';

/**
 * SQLite runs on the event loop: a statement that deletes or scans many rows stops every pixel,
 * event and delivery until it ends. The hourly purge therefore deletes a batch at a time, each
 * found on an index, with a turn of the event loop between batches. One statement for 100,000
 * of 1,000,000 touches held the loop for 1,611 ms (bench/RESULTS.md, issue 22's eleventh
 * round); 1,000 rows take about 10 ms. PostgreSQL runs each purge statement once, as before:
 * it does not stop the event loop, and there touches and events go by whole partitions.
 */
export const PURGE_BATCH_ROWS = 1_000;
/**
 * The first batch of each table, and the time each batch aims at. A batch's cost per row is
 * not steady: the first of an hourly purge reads index pages that the connection's cache does
 * not hold (1,000 touches took 74-143 ms where later batches took 10), so each batch's size
 * follows from the last one's time, up to PURGE_BATCH_ROWS.
 */
export const FIRST_BATCH_ROWS = 100;
const BATCH_TARGET_MS = 10;

/** The rows of the next batch, from the last batch's rows and the milliseconds it took. */
export function nextBatchRows(rows: number, ms: number): number {
  const paced = ms > 0 ? Math.floor((rows * BATCH_TARGET_MS) / ms) : rows * 2;
  return Math.max(FIRST_BATCH_ROWS / 2, Math.min(PURGE_BATCH_ROWS, rows * 2, paced));
}

/**
 * Dedup keys read in one window of their primary key. Their table has no index by age (one
 * would cost every event a second B-tree insert), so the purge walks the key in windows: 5,000
 * keys take about 0.4 ms to read, and at most 5,000 deletes about 18 ms when all have expired.
 */
export const DEDUP_WINDOW_ROWS = 5_000;

/** One purge: the database, and what it awaits between batches (a turn of the event loop). */
export interface PurgeRun {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  pause(): Promise<unknown>;
}

/** A purge that only lets the event loop turn between batches. */
export function purgeRun(db: Kysely<Database>, dialect: Dialect): PurgeRun {
  return { db, dialect, pause: () => nextTurn() };
}

/**
 * Deletes the rows of `table` that `where` picks, PURGE_BATCH_ROWS at a time by `key` (the
 * rowid unless named), pausing between batches; one statement on PostgreSQL. `where` must be
 * served by an index: each batch finds its rows anew.
 */
export async function deleteInBatches(
  { db, dialect, pause }: PurgeRun,
  table: keyof Database,
  where: RawBuilder<unknown>,
  key = 'rowid',
): Promise<number> {
  if (dialect === 'postgres') {
    const r = await sql`delete from ${sql.table(table)} where ${where}`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  }
  let deleted = 0;
  let limit = FIRST_BATCH_ROWS;
  for (;;) {
    const started = performance.now();
    const r = await sql`delete from ${sql.table(table)} where ${sql.ref(key)} in (
      select ${sql.ref(key)} from ${sql.table(table)} where ${where} limit ${limit})`.execute(db);
    const ms = performance.now() - started;
    const n = Number(r.numAffectedRows ?? 0);
    deleted += n;
    // Pixels, events and deliveries are answered before the next batch, or the next
    // statement of the purge.
    if (n > 0) await pause();
    if (n < limit) return deleted;
    limit = nextBatchRows(limit, ms);
  }
}

/**
 * Deletes the events received before `before_ms` (SQLite; PostgreSQL drops whole day
 * partitions, maintenance.ts). Their index leads with the environment
 * (`events_by_env_time`), so SQLite walks the environments on it and deletes each one's in
 * batches: `received_at_ms < ?` alone scanned the whole table, 400 days of events by default,
 * every hour even with nothing to delete (98 ms for 1,000,000 events).
 */
export async function purgeEvents(run: PurgeRun, before_ms: number): Promise<number> {
  const { db } = run;
  let deleted = 0;
  let after: string | null = null;
  for (;;) {
    const next: { env_id: string | null } | undefined = await db
      .selectFrom('events')
      .select((eb) => eb.fn.min('env_id').as('env_id'))
      .$if(after !== null, (q) => q.where('env_id', '>', after as string))
      .executeTakeFirst();
    const env: string | null = next?.env_id ?? null;
    if (env === null) return deleted;
    deleted += await deleteInBatches(
      run,
      'events',
      sql`env_id = ${env} and received_at_ms < ${before_ms}`,
      'pk',
    );
    after = env;
  }
}

type DedupKey = { env_id: string; event_name: string; event_id: string };

/**
 * Deletes the dedup keys first seen before `before_s`. On SQLite it walks the table's primary
 * key DEDUP_WINDOW_ROWS keys at a time, deleting the expired ones of each window, with a turn
 * of the event loop between windows: `first_seen < ?` in one statement read every key of the
 * last 48 hours (128 ms for 2,000,000 with nothing to delete, 368 ms deleting 100,000).
 */
export async function purgeDedupKeys(run: PurgeRun, before_s: number): Promise<number> {
  const { db, dialect } = run;
  const key = sql`(env_id, event_name, event_id)`;
  if (dialect === 'postgres')
    return deleteInBatches(run, 'dedup_keys', sql`first_seen < ${before_s}`);
  let deleted = 0;
  let after: RawBuilder<unknown> | null = null;
  for (;;) {
    // From the smallest key on: every key is at least ('', '', '').
    const from: RawBuilder<unknown> =
      after === null ? sql`${key} >= ('', '', '')` : sql`${key} > ${after}`;
    const end: QueryResult<DedupKey> = await sql<DedupKey>`
      select env_id, event_name, event_id from dedup_keys where ${from}
      order by env_id, event_name, event_id limit 1 offset ${DEDUP_WINDOW_ROWS - 1}`.execute(db);
    const last: DedupKey | undefined = end.rows[0];
    const upTo =
      last === undefined
        ? sql`1 = 1`
        : sql`${key} <= (${last.env_id}, ${last.event_name}, ${last.event_id})`;
    const r = await sql`delete from dedup_keys
      where ${from} and ${upTo} and first_seen < ${before_s}`.execute(db);
    deleted += Number(r.numAffectedRows ?? 0);
    if (last === undefined) return deleted;
    after = sql`(${last.env_id}, ${last.event_name}, ${last.event_id})`;
    await run.pause();
  }
}
