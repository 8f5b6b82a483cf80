import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 22, thirteenth round: when a later copy of an event merged into the stored one, and
 * when. An erasure finds the person's e-mail and phone hashes and cookie ids in the events'
 * JSON, which no index holds: a scan of every event of the environment (400 days kept). It
 * now scans first outside its write transaction (on SQLite, on the read thread), and the
 * transaction searches again only the events received or merged into since
 * (subject-queries.ts); merges are found here.
 *
 * Only merged events are in the index (a partial index on a column that stays null until a
 * merge), so a new event's insert writes no entry: ingest pays nothing, a merge one entry.
 */
export function eventUpdatesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('events')
        .addColumn('updated_at_ms', dialect === 'postgres' ? 'bigint' : 'integer')
        .execute();
      await db.schema
        .createIndex('events_by_update')
        .ifNotExists()
        .on('events')
        .columns(['env_id', 'updated_at_ms'])
        .where(sql.ref('updated_at_ms'), 'is not', null)
        .execute();
    },
  };
}

export default defineMigration('0041_event_updates', eventUpdatesMigration);
