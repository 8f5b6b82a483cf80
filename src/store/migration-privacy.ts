import type { Kysely, Migration } from 'kysely';

/** Issue 6: an outbox row may hold the raw client IP its platform delivery needs, cleared once the row is done. */
export const privacyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('outbox').addColumn('raw_ip', 'text').execute();
  },
};

/**
 * Issue 20 §3: an outbox row may hold the clear name and address values its platform needs
 * (Google Ads `addressInfo`, LinkedIn `userInfo`), cleared once the row is done.
 */
export const clearUserMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('outbox').addColumn('clear_user', 'text').execute();
  },
};

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
