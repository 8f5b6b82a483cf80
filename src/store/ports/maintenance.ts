import type { PartitionIndexRun } from '../partition-indexes.js';
import type { PurgeCutoffs, PurgeReport } from '../records.js';

/** The database itself: schema, connection, retention and upkeep. */
export interface MaintenancePort {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store can commit; throws otherwise (for `/readyz`). */
  ping(): Promise<void>;
  /**
   * Deletes what retention allows: touches, events, dedup keys and import keys older than
   * their cutoffs (import keys go with the events).
   * On PostgreSQL whole day partitions are dropped (cutoffs act at day granularity: a row is
   * kept until its whole day has passed the cutoff).
   */
  purge(cutoffs: PurgeCutoffs): Promise<PurgeReport>;
  /** Makes the partitions of today and the next days (PostgreSQL); nothing on SQLite. */
  ensurePartitions(now_ms: number): Promise<void>;
  /**
   * Builds the indexes that existing partitions lack, one at a time without blocking writes
   * (PostgreSQL, partition-indexes.ts). Nothing on SQLite.
   */
  buildPartitionIndexes(signal?: AbortSignal): Promise<PartitionIndexRun>;
  /**
   * Brings the query planner up to date after a bulk load (PostgreSQL: VACUUM ANALYZE, which
   * also lets index-only scans skip the heap); nothing on SQLite.
   */
  refreshStatistics(): Promise<void>;
}
