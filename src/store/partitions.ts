import { type Kysely, sql } from 'kysely';

/**
 * Day partitions of the two tables that grow with traffic (DESIGN §8, issue 4). Each table
 * has one partition per UTC day named `<table>_dYYYYMMDD`, plus a DEFAULT partition that
 * catches rows of days without one (a clock far off, a seeded past), so an insert never
 * fails for want of a partition. Retention drops whole day partitions: no row-by-row
 * DELETE, no bloat, no vacuum debt.
 */
export interface PartitionedTable {
  name: 'touches' | 'events';
  /** The partition key column. */
  column: 'time' | 'received_at_ms';
  /** Units of the key per millisecond: touches use Unix seconds, events milliseconds. */
  perMs: number;
}

export const PARTITIONED: readonly PartitionedTable[] = [
  { name: 'touches', column: 'time', perMs: 1 / 1000 },
  { name: 'events', column: 'received_at_ms', perMs: 1 },
];

const DAY_MS = 86_400_000;
/** Partitions made ahead of today, so midnight never finds the next day missing. */
export const DAYS_AHEAD = 3;
/** The most day partitions a migration makes for rows already stored; older rows go to DEFAULT. */
const MAX_BACKFILL_DAYS = 400;

export function dayStartMs(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function partitionName(table: PartitionedTable, dayMs: number): string {
  const d = new Date(dayMs);
  const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${table.name}_d${ymd}`;
}

/** The UTC day a partition holds, from its name; null for DEFAULT and foreign tables. */
export function dayOfPartition(table: PartitionedTable, name: string): number | null {
  const m = new RegExp(`^${table.name}_d(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

function bound(table: PartitionedTable, ms: number): number {
  return Math.round(ms * table.perMs);
}

/** Names of the table's partitions (DEFAULT included). */
export async function listPartitions<DB>(db: Kysely<DB>, table: PartitionedTable) {
  const r = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = ${table.name} AND p.relnamespace = current_schema()::regnamespace`.execute(
    db,
  );
  return r.rows.map((x) => x.name);
}

/**
 * Makes the day partition of each given day that is missing. Safe when several processes do
 * it at once (a lost race is a harmless "already exists"), and when DEFAULT already holds
 * rows of that day (PostgreSQL refuses the partition; the rows stay in DEFAULT, where reads
 * and retention still find them).
 */
export async function ensureDays<DB>(
  db: Kysely<DB>,
  table: PartitionedTable,
  days: readonly number[],
): Promise<void> {
  const have = new Set(await listPartitions(db, table));
  for (const day of days) {
    const name = partitionName(table, day);
    if (have.has(name)) continue;
    try {
      await withLockTimeout(db, (tx) =>
        sql`CREATE TABLE IF NOT EXISTS ${sql.id(name)} PARTITION OF ${sql.id(table.name)}
        FOR VALUES FROM (${sql.lit(bound(table, day))}) TO (${sql.lit(bound(table, day + DAY_MS))})`.execute(
          tx,
        ),
      );
    } catch (e) {
      const code = (e as { code?: string }).code;
      // 42P07/23505: another process made it first. 23514: DEFAULT holds rows of that day.
      if (code === '42P07' || code === '23505' || code === '23514') continue;
      // The next hourly run makes it (days are made ahead).
      if (!leftForLater(db, e)) throw e;
    }
  }
}

/** Today's partition and the next few days'. */
export function upcomingDays(nowMs: number): number[] {
  const today = dayStartMs(nowMs);
  return Array.from({ length: DAYS_AHEAD + 1 }, (_, i) => today + i * DAY_MS);
}

/** Every day from `fromMs` to `toMs` (inclusive), capped to the most recent days. */
export function daysBetween(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const first = Math.max(dayStartMs(fromMs), dayStartMs(toMs) - (MAX_BACKFILL_DAYS - 1) * DAY_MS);
  for (let d = first; d <= dayStartMs(toMs); d += DAY_MS) out.push(d);
  return out;
}

/**
 * How long making or dropping a partition may wait for its locks. Both lock the whole
 * partitioned table, so while they wait (behind a long report's read of a partition, or an
 * index being built on it) every insert into any day queues behind them.
 */
const PARTITION_LOCK_TIMEOUT = '1s';

/**
 * Whether a partition's DDL that failed with `e` is left to the next run: its locks not had in
 * PARTITION_LOCK_TIMEOUT (55P03), or its transaction chosen to end a deadlock (40P01), as
 * with another process's index build on DEFAULT (partition-indexes.ts: CREATE INDEX
 * CONCURRENTLY holds DEFAULT's lock while it waits for every older transaction to end: a
 * deadlock failed a start's migration or the hourly upkeep). Not inside a caller's
 * transaction (a migration's), which the failure has aborted.
 */
function leftForLater<DB>(db: Kysely<DB>, e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return !db.isTransaction && (code === '55P03' || code === '40P01');
}

/** Runs `ddl` with PARTITION_LOCK_TIMEOUT, in a transaction of its own unless `db` is one. */
async function withLockTimeout<DB, T>(
  db: Kysely<DB>,
  ddl: (tx: Kysely<DB>) => Promise<T>,
): Promise<T> {
  // A migration's transaction (0008) keeps its own; a lock it waits for is the start's.
  if (db.isTransaction) return ddl(db);
  return db.transaction().execute(async (tx) => {
    await sql`SET LOCAL lock_timeout = ${sql.lit(PARTITION_LOCK_TIMEOUT)}`.execute(tx);
    return ddl(tx);
  });
}

/**
 * Drops every day partition wholly older than `beforeMs` and deletes the rows of those days
 * left in DEFAULT. The day of the cutoff itself is kept whole until it has passed: retention
 * acts per day, without scanning a partition row by row. Returns the rows removed.
 */
export async function dropBefore<DB>(
  db: Kysely<DB>,
  table: PartitionedTable,
  beforeMs: number,
): Promise<{ rows: number; partitions: number }> {
  let rows = 0;
  let partitions = 0;
  for (const name of await listPartitions(db, table)) {
    const day = dayOfPartition(table, name);
    if (day === null || day + DAY_MS > beforeMs) continue;
    const n = await sql<{ n: string | number }>`SELECT count(*) AS n FROM ${sql.id(name)}`.execute(
      db,
    );
    try {
      await withLockTimeout(db, (tx) => sql`DROP TABLE IF EXISTS ${sql.id(name)}`.execute(tx));
    } catch (e) {
      // The next hourly purge drops it.
      if (leftForLater(db, e)) continue;
      throw e;
    }
    rows += Number(n.rows[0]?.n ?? 0);
    partitions++;
  }
  // Rows of days without a partition of their own wait in DEFAULT.
  const left = await sql`DELETE FROM ${sql.id(`${table.name}_default`)} WHERE ${sql.id(
    table.column,
  )} < ${bound(table, dayStartMs(beforeMs))}`.execute(db);
  rows += Number(left.numAffectedRows ?? 0);
  return { rows, partitions };
}
