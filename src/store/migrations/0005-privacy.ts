import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/** Issue 6: an outbox row may hold the raw client IP its platform delivery needs, cleared once the row is done. */
export const privacyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('outbox').addColumn('raw_ip', 'text').execute();
  },
};

export default defineMigration('0004_privacy', privacyMigration);
