import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/** Rows named in the refusal, so the operator can find them. */
const EXAMPLES = 3;

/**
 * Issue 22: every conversion row wrote five b-trees on SQLite (the table, its primary key,
 * `conversions_by_time`, `conversions_by_event` and the reports' `conversions_report`), four
 * indexes on PostgreSQL. `conversions_by_event` (event_pk) served only the reads of one
 * event's conversions (re-attribution of a merged copy, a late copy, the debugger, a person's
 * export and erasure). A conversion's id is always made from its event's key
 * (`conversionIdOf`: `cv_` for `ev_`), so those reads now find the rows by the primary key
 * (env_id, conversion_id) and the index goes. The table is not partitioned on PostgreSQL: one
 * index.
 *
 * pixeltrail's ingest has made every id so since its first version; a row made otherwise (put
 * in by hand, or by another tool) would be found by none of those reads, and erasure would
 * leave it behind. So the step first looks for one, and refuses to run, naming the rows,
 * rather than lose them quietly.
 *
 * `conversions_by_time` (env_id, created_at_ms) stays: the dashboard's list, the health
 * counts and a replay of a range read by the receive time, which no other index orders by.
 */
export const conversionsByEventDroppedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // `'cv_' || substr(k, 4)` is conversionIdOf(k) in SQL (substr counts from 1), on both stores.
    const odd = await sql<{ conversion_id: string; event_pk: string }>`
      select "conversion_id", "event_pk" from "conversions"
      where "conversion_id" <> ('cv_' || substr("event_pk", 4)) limit ${EXAMPLES}`.execute(db);
    if (odd.rows.length > 0) {
      const named = odd.rows.map((r) => `${r.conversion_id} (event ${r.event_pk})`).join(', ');
      throw new Error(
        `0039_conversions_by_event_dropped: conversions whose id is not made from their event's ` +
          `key ('cv_' + the key after 'ev_'), e.g. ${named}. This version finds an event's ` +
          'conversions by that id; those rows were not written by pixeltrail. Correct or ' +
          'delete them, then start again.',
      );
    }
    await db.schema.dropIndex('conversions_by_event').ifExists().execute();
  },
};

export default defineMigration(
  '0039_conversions_by_event_dropped',
  conversionsByEventDroppedMigration,
);
