import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 22: every conversion row wrote five b-trees on SQLite (the table, its primary key,
 * `conversions_by_time`, `conversions_by_event` and the reports' `conversions_report`), four
 * indexes on PostgreSQL. `conversions_by_event` (event_pk) served only the reads of one
 * event's conversions (re-attribution of a merged copy, a late copy, the debugger, a person's
 * export and erasure). A conversion's id is always made from its event's key
 * (`conversionIdOf`), so those reads now find the rows by the primary key (env_id,
 * conversion_id) and the index goes. The table is not partitioned on PostgreSQL: one index.
 *
 * `conversions_by_time` (env_id, created_at_ms) stays: the dashboard's list, the health
 * counts and a replay of a range read by the receive time, which no other index orders by.
 */
export const conversionsByEventDroppedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('conversions_by_event').ifExists().execute();
  },
};

export default defineMigration(
  '0039_conversions_by_event_dropped',
  conversionsByEventDroppedMigration,
);
