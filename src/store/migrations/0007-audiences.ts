import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Conversion paths (multi-touch attribution), audiences, their memberships, size history,
 * platform sync state and sync attempts (issue 9). Every key starts with env_id (Citus).
 */
export function audiencesMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('conversion_paths')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('conversion_id', 'text', (c) => c.notNull())
        .addColumn('event_pk', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('event_time', sql.raw(big), (c) => c.notNull())
        .addColumn('value', sql.raw(real))
        .addColumn('currency', 'text')
        .addColumn('lookback_s', sql.raw(big), (c) => c.notNull())
        .addColumn('touches', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('conversion_paths_pk', ['env_id', 'conversion_id'])
        .execute();
      await db.schema
        .createIndex('conversion_paths_by_time')
        .on('conversion_paths')
        .columns(['env_id', 'event_time'])
        .execute();

      await db.schema
        .createTable('audiences')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('min_export_size', 'integer', (c) => c.notNull())
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('recomputed_at_ms', sql.raw(big))
        .addPrimaryKeyConstraint('audiences_pk', ['env_id', 'id'])
        .execute();
      // `GET /api/audiences/:id` names no environment; ids are random, so this finds one row.
      await db.schema.createIndex('audiences_by_id').on('audiences').column('id').execute();

      await db.schema
        .createTable('audience_members')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('audience_id', 'text', (c) => c.notNull())
        .addColumn('key_type', 'text', (c) => c.notNull())
        .addColumn('key_value', 'text', (c) => c.notNull())
        .addColumn('person', 'text', (c) => c.notNull())
        .addColumn('member', 'integer', (c) => c.notNull())
        .addColumn('changes_at', sql.raw(big))
        .addColumn('email_sha256', 'text')
        .addColumn('phone_sha256', 'text')
        .addColumn('phone_e164_sha256', 'text')
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('audience_members_pk', [
          'env_id',
          'audience_id',
          'key_type',
          'key_value',
        ])
        .execute();
      await db.schema
        .createIndex('audience_members_by_person')
        .on('audience_members')
        .columns(['env_id', 'audience_id', 'member', 'person'])
        .execute();
      await db.schema
        .createIndex('audience_members_by_change')
        .on('audience_members')
        .columns(['env_id', 'audience_id', 'changes_at'])
        .execute();

      await db.schema
        .createTable('audience_sizes')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('audience_id', 'text', (c) => c.notNull())
        .addColumn('at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('audience_sizes_pk', ['env_id', 'audience_id', 'at_ms'])
        .execute();

      await db.schema
        .createTable('audience_synced')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('audience_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('person', 'text', (c) => c.notNull())
        .addColumn('ids', 'text', (c) => c.notNull())
        .addColumn('synced_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('audience_synced_pk', [
          'env_id',
          'audience_id',
          'dest_id',
          'person',
        ])
        .execute();

      await db.schema
        .createTable('audience_sync_attempts')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('audience_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('rows', 'integer', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('response_excerpt', 'text')
        .addPrimaryKeyConstraint('audience_sync_attempts_pk', ['env_id', 'id'])
        .execute();
      await db.schema
        .createIndex('audience_sync_attempts_by_audience')
        .on('audience_sync_attempts')
        .columns(['env_id', 'audience_id', 'at_ms'])
        .execute();

      await db.schema
        .createIndex('identity_links_by_anonymous_id')
        .on('identity_links')
        .columns(['env_id', 'anonymous_id'])
        .execute();
    },
  };
}

export default defineMigration('0006_audiences', audiencesMigration);
