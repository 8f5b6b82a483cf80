import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0010_stored_destinations: destinations made or edited through the admin API, one row per
 * (env_id, dest_id) in the config file's form (JSON). `config` null marks a deleted one, kept
 * so that it also hides a config-file destination of the same id and so that the table's
 * `(count, max(updated_at_ms))` changes on every write (other processes poll it).
 */
export function storedDestinationsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('stored_destinations')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('config', 'text')
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('stored_destinations_pk', ['env_id', 'dest_id'])
        .execute();
    },
  };
}

export default defineMigration('0010_stored_destinations', storedDestinationsMigration);
