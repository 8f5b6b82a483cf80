import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 20 §3: an outbox row may hold the clear name and address values its platform needs
 * (Google Ads `addressInfo`, LinkedIn `userInfo`), cleared once the row is done.
 */
export const clearUserMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('outbox').addColumn('clear_user', 'text').execute();
  },
};

export default defineMigration('0016_outbox_clear_user', clearUserMigration);
