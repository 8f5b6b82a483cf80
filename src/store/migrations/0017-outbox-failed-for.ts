import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 20: why a conversion's row failed, when a later copy of its event may change that
 * (`identifiers`: the platform had nothing to match on, so a copy that brings them queues it
 * again; `consent`: a copy withdrew consent before it left). Null for other failures.
 */
export const outboxFailedForMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('outbox').addColumn('failed_for', 'text').execute();
  },
};

export default defineMigration('0014_outbox_failed_for', outboxFailedForMigration);
