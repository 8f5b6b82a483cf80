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

const PARTITION_INDEXES: readonly PartitionIndex[] = [
  // 0042_touches_by_env_time.
  {
    index: 'touches_by_env_time',
    table: 'touches',
    columns: '(env_id, "time", id)',
    suffix: 'by_env_time',
  },
];

/**
 * How long attaching a built index may wait for its lock. ATTACH locks the partition's index
 * exclusively, so it waits behind any open transaction that planned the partition, and the
 * partition's inserts queue behind it: it gives up, and the next run attaches what is built.
 */
const ATTACH_LOCK_TIMEOUT = '500ms';

/** What one run did: partitions indexed, and those that failed (tried again next run). */
export interface PartitionIndexRun {
  attached: number;
  failed: Array<{ partition: string; message: string }>;
}

/**
 * Builds, one partition at a time and without blocking its writes (`CREATE INDEX
 * CONCURRENTLY`), the index of each partition that PARTITION_INDEXES' indexes lack, and
 * attaches it; the partitioned index is valid once every partition has one. Newest days first,
 * DEFAULT last. A failed partition does not stop the others. When `signal` aborts (the
 * server's close), the build running is cancelled: its index is left invalid, and made again
 * by the next run. Several processes may run it at once: a partition whose index another is
 * building is left to it. PostgreSQL only.
 */
export async function buildPartitionIndexes<DB>(
  db: Kysely<DB>,
  signal?: AbortSignal,
): Promise<PartitionIndexRun> {
  const run: PartitionIndexRun = { attached: 0, failed: [] };
  if (signal?.aborted) return run;
  // CONCURRENTLY runs outside any transaction, on one connection, which a close cancels.
  await db.connection().execute(async (conn) => {
    const self = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
    const pid = self.rows[0]?.pid;
    const cancel = () => {
      sql`select pg_cancel_backend(${pid})`.execute(db).catch(() => undefined);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for (const spec of PARTITION_INDEXES) {
        for (const name of await partitionsWithout(conn, spec)) {
          if (signal?.aborted) return;
          try {
            if (await indexPartition(conn, spec, name)) run.attached++;
          } catch (e) {
            if (signal?.aborted) return;
            // 42P01: the retention purge of another process dropped the partition meanwhile.
            if ((e as { code?: string }).code === '42P01') continue;
            run.failed.push({ partition: name, message: (e as Error).message });
          }
        }
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  });
  return run;
}

/** The partitions of `spec.table` whose index `spec.index` has none attached. */
async function partitionsWithout<DB>(db: Kysely<DB>, spec: PartitionIndex): Promise<string[]> {
  const r = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = to_regclass(${spec.table})
      and to_regclass(${spec.index}) is not null
      and not exists (select 1 from pg_inherits ii join pg_index x on x.indexrelid = ii.inhrelid
        where ii.inhparent = to_regclass(${spec.index}) and x.indrelid = c.oid)
    order by c.relname = ${`${spec.table}_default`}, c.relname desc`.execute(db);
  return r.rows.map((x) => x.name);
}

/** Builds and attaches one partition's index; false when another process is building it. */
async function indexPartition<DB>(
  db: Kysely<DB>,
  spec: PartitionIndex,
  name: string,
): Promise<boolean> {
  const index = `${name}_${spec.suffix}`;
  const building = await sql`select 1 from pg_stat_progress_create_index
    where relid = to_regclass(${name})`.execute(db);
  if (building.rows.length > 0) return false;
  const found = await sql<{ valid: boolean }>`select x.indisvalid as valid from pg_index x
    where x.indexrelid = to_regclass(${index}) and x.indrelid = to_regclass(${name})`.execute(db);
  const valid = found.rows[0]?.valid;
  // No build of it runs: an invalid index is one a killed or cancelled build left.
  if (valid === false) await sql`drop index concurrently if exists ${sql.id(index)}`.execute(db);
  if (valid !== true)
    await sql`create index concurrently if not exists ${sql.id(index)}
      on ${sql.id(name)} ${sql.raw(spec.columns)}`.execute(db);
  await sql`begin`.execute(db);
  try {
    await sql`set local lock_timeout = ${sql.lit(ATTACH_LOCK_TIMEOUT)}`.execute(db);
    await sql`alter index ${sql.id(spec.index)} attach partition ${sql.id(index)}`.execute(db);
    await sql`commit`.execute(db);
  } catch (e) {
    await sql`rollback`.execute(db);
    throw e;
  }
  return true;
}
