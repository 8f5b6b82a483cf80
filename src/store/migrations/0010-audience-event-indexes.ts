import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Audience evaluation reads one person's events. These indexes come after 0008_partitions,
 * which rebuilds `events` as a partitioned table on PostgreSQL (an index made before would
 * be dropped with the old table); partial, so events without the id cost no index write.
 */
export const audienceEventIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const col of ['anonymous_id', 'user_id'] as const) {
      await db.schema
        .createIndex(`events_by_${col}`)
        .ifNotExists()
        .on('events')
        .columns(['env_id', col, 'event_time'])
        .where(sql.ref(col), 'is not', null)
        .execute();
    }
  },
};

export default defineMigration('0009_audience_event_indexes', audienceEventIndexesMigration);
