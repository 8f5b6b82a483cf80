import { type Kysely, sql } from 'kysely';

/**
 * An index made `ON ONLY` a partitioned table (a migration cannot build it: PostgreSQL builds
 * an index on a partitioned table inside one transaction, every partition locked against
 * writes until the last is built). Partitions made later get theirs with the table; those that
 * already held rows are built here.
 */
interface PartitionIndex {
  /** The partitioned index. */
  readonly index: string;
  readonly table: string;
  /** Its columns, as SQL. */
  readonly columns: string;
  /** A partition's index is named `<partition>_<suffix>`. */
  readonly suffix: string;
}

export const PARTITION_INDEXES: readonly PartitionIndex[] = [
  // 0042_touches_by_env_time.
  {
    index: 'touches_by_env_time',
    table: 'touches',
    columns: '(env_id, "time", id)',
    suffix: 'by_env_time',
  },
];

/** PostgreSQL advisory lock key of the builder ("ptix" in ASCII). */
export const BUILD_LOCK_KEY = 0x70746978;

/**
 * Builds, one partition at a time and without blocking its writes (`CREATE INDEX
 * CONCURRENTLY`), the index of each partition that PARTITION_INDEXES' indexes lack, and
 * attaches it; the partitioned index is valid once every partition has one. Returns how many
 * it attached. One process builds at a time (an advisory lock; the others return 0). Stops
 * between partitions when `signal` aborts (the server's close). PostgreSQL only.
 */
export async function buildPartitionIndexes<DB>(
  db: Kysely<DB>,
  signal?: AbortSignal,
): Promise<number> {
  let attached = 0;
  // CONCURRENTLY runs outside any transaction; the lock is the session's: one connection.
  await db.connection().execute(async (conn) => {
    const lock = await sql<{
      ok: boolean;
    }>`select pg_try_advisory_lock(${BUILD_LOCK_KEY}) as ok`.execute(conn);
    if (!lock.rows[0]?.ok) return;
    try {
      for (const spec of PARTITION_INDEXES) {
        // Newest days first: they are the ones reports read most.
        const missing = await sql<{ name: string }>`
          select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = to_regclass(${spec.table})
            and to_regclass(${spec.index}) is not null
            and not exists (select 1 from pg_inherits ii join pg_index x on x.indexrelid = ii.inhrelid
              where ii.inhparent = to_regclass(${spec.index}) and x.indrelid = c.oid)
          order by c.relname desc`.execute(conn);
        for (const { name } of missing.rows) {
          if (signal?.aborted) return;
          const index = `${name}_${spec.suffix}`;
          try {
            const found = await sql<{ valid: boolean }>`
              select x.indisvalid as valid from pg_index x
              where x.indexrelid = to_regclass(${index}) and x.indrelid = to_regclass(${name})`.execute(
              conn,
            );
            const valid = found.rows[0]?.valid;
            // Under the lock an invalid index is a build that a killed process left.
            if (valid === false)
              await sql`drop index concurrently if exists ${sql.id(index)}`.execute(conn);
            if (valid !== true)
              await sql`create index concurrently if not exists ${sql.id(index)}
                on ${sql.id(name)} ${sql.raw(spec.columns)}`.execute(conn);
            await sql`alter index ${sql.id(spec.index)} attach partition ${sql.id(index)}`.execute(
              conn,
            );
            attached++;
          } catch (e) {
            // 42P01: the retention purge of another process dropped the partition meanwhile.
            if ((e as { code?: string }).code !== '42P01') throw e;
          }
        }
      }
    } finally {
      await sql`select pg_advisory_unlock(${BUILD_LOCK_KEY})`.execute(conn);
    }
  });
  return attached;
}
