import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 23 §1: a visit's source (UTM fields, ad click id, external referrer) rides on its
 * touch as JSON, read back onto conversion paths; and an environment's channel rules saved
 * through the admin API (`/api/environments/:env_id/channels`) override the config file's.
 * PostgreSQL adds the column to every day partition of `touches` at once.
 */
export function channelsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('touches').addColumn('traffic_source', 'text').execute();
      await db.schema
        .createTable('channel_settings')
        .addColumn('env_id', 'text', (c) => c.primaryKey())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .execute();
    },
  };
}

export default defineMigration('0022_channels', channelsMigration);
