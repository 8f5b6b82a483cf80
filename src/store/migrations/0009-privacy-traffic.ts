import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 6: touches and events record their traffic class (null = human). It runs after
 * 0008_partitions, which rebuilds both tables on PostgreSQL (a column added to the partitioned
 * parent reaches every partition).
 */
export const privacyTrafficMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('touches').addColumn('traffic', 'text').execute();
    await db.schema.alterTable('events').addColumn('traffic', 'text').execute();
  },
};

export default defineMigration('0008b_privacy_traffic', privacyTrafficMigration);
