import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Reads of the lift and data-driven reports that must see what the reports count:
 * - bot and prefetch touches by time (a partial index: the day counts of `touch_days` include
 *   them, and the non-converting journeys' sample share needs the human touches of a range,
 *   so the bots are counted and taken off; the index holds only them, however many humans).
 *   On PostgreSQL an index made on the partitioned `touches` reaches every day partition.
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
  },
};

export default defineMigration('0032_lift_reads', liftReadsMigration);
