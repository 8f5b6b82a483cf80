import type { Kysely, Migration } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 22, thirteenth round: which stored events a later copy merged into, and when. An
 * erasure finds the person's e-mail and phone hashes and cookie ids in the events' JSON,
 * which no index holds: a scan of every event of the environment (400 days kept). On SQLite
 * it now scans first, off the event loop (the read thread), and its write transaction
 * searches again only the events received or merged into since (subject-queries.ts): the
 * merges are found here. A merge is the only change to an event's JSON after its insert.
 *
 * A table of its own, not a column of `events`: an index on a new column would be built by
 * reading every event at the upgrade (minutes on a large store, every partition locked on
 * PostgreSQL), and new events would pay for it. A row is an event's key and a time, nothing
 * of the person's; rows are kept a day past the 48 h in which copies merge (the hourly purge).
 */
export function eventMergesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('event_merges')
        .ifNotExists()
        .addColumn('merged_at_ms', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          c.notNull(),
        )
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('pk', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('event_merges_pk', ['merged_at_ms', 'env_id', 'pk'])
        .execute();
    },
  };
}

export default defineMigration('0041_event_merges', eventMergesMigration);
