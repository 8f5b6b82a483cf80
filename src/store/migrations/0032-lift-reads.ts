import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Reads of the lift and data-driven reports that must see what the reports count:
 * - bot and prefetch touches by time (a partial index: the day counts of `touch_days` include
 *   them, and the non-converting journeys' sample share needs the human touches of a range,
 *   so the bots are counted and taken off; the index holds only them, however many humans).
 *   On PostgreSQL an index made on the partitioned `touches` reaches every day partition;
 * - `events.is_test`, as `conversions.is_test`: 1 when the event carried a test code. The
 *   lift read it from the stored JSON by a text match, which also dropped every event with a
 *   property named `test_code`. Events stored before are flagged here from their JSON's own
 *   top-level field; the text match only picks the few rows to parse, in pages (one pass).
 *   PostgreSQL's JSON operators are not used: they refuse a whole row over a `\u0000` escape
 *   anywhere in it, and an event's properties may carry one.
 */
export const liftReadsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('touches_not_human_by_time')
      .ifNotExists()
      .on('touches')
      .columns(['env_id', 'time'])
      .where(sql.ref('traffic'), 'is not', null)
      .execute();
    await db.schema
      .alterTable('events')
      .addColumn('is_test', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await flagStoredTestEvents(db);
  },
};

/** Rows a page of the backfill reads. */
const BACKFILL_PAGE = 1000;

/** The stored event's own test code, as ingest set it (`TrackedEvent.test_code`). */
function carriesTestCode(data: string): boolean {
  try {
    const e = JSON.parse(data) as { test_code?: unknown } | null;
    return typeof e === 'object' && e !== null && !!e.test_code;
  } catch {
    return false;
  }
}

async function flagStoredTestEvents(db: Kysely<unknown>): Promise<void> {
  let after = '';
  for (;;) {
    const { rows } = await sql<{ pk: string; data: string }>`select pk, data from events
      where pk > ${after} and data like ${'%"test_code":%'} order by pk limit ${BACKFILL_PAGE}`.execute(
      db,
    );
    const last = rows.at(-1);
    if (!last) return;
    const test = rows.filter((r) => carriesTestCode(r.data)).map((r) => r.pk);
    if (test.length > 0)
      await sql`update events set is_test = 1 where pk in (${sql.join(test)})`.execute(db);
    after = last.pk;
  }
}

export default defineMigration('0032_lift_reads', liftReadsMigration);
