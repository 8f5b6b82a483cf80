import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * PostgreSQL reads touches in time order by environment: the journeys of the attribution
 * report (keyset pages on (time, id)) and the debugger's newest touches. 0008 left the
 * partitioned table without the time index SQLite keeps (`touches_by_time`), so each page of
 * 2,500 read and sorted every touch after its cursor: 72 pages of 235 ms for the demo's
 * 1,000,000 touches, the report 28 s (bench/RESULTS.md, eighteenth round), and growing with
 * the square of the touches kept.
 *
 * Made `ON ONLY` the partitioned table: the statement builds nothing and locks the table for a
 * moment only, and partitions made after it get their own index at once. Those that already hold touches
 * are indexed one at a time without blocking writes (`CREATE INDEX CONCURRENTLY`), outside a
 * migration's transaction, by the hourly upkeep (partition-indexes.ts); the index is valid
 * when the last is attached. SQLite has `touches_by_time` since 0001.
 */
export function touchesByEnvTimeMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      await sql`create index if not exists touches_by_env_time on only touches (env_id, "time", id)`.execute(
        db,
      );
    },
  };
}

export default defineMigration('0042_touches_by_env_time', touchesByEnvTimeMigration);
