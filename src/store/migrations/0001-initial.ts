import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

// Every unique key starts with env_id so the schema stays distributable by env_id (Citus).
function initial(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('touches')
        .addColumn('id', sql.raw(serial), (c) =>
          dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('touch_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text')
        .addColumn('campaign_id', 'text')
        .addColumn('creative_id', 'text')
        .addColumn('placement_id', 'text')
        .addColumn('time', sql.raw(big), (c) => c.notNull())
        .addColumn('anonymous_id', 'text')
        .addColumn('user_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .execute();
      for (const col of ['anonymous_id', 'user_id', 'ip', 'touch_id'] as const) {
        await db.schema
          .createIndex(`touches_by_${col}`)
          .on('touches')
          .columns(['env_id', col, 'time'])
          .execute();
      }
      await db.schema.createIndex('touches_by_time').on('touches').column('time').execute();

      await db.schema
        .createTable('events')
        .addColumn('pk', 'text', (c) => c.primaryKey())
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_time', sql.raw(big), (c) => c.notNull())
        .addColumn('received_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('anonymous_id', 'text')
        .addColumn('user_id', 'text')
        .addColumn('value', sql.raw(real))
        .addColumn('currency', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('duplicate_count', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('events_by_env_time')
        .on('events')
        .columns(['env_id', 'received_at_ms'])
        .execute();

      await db.schema
        .createTable('dedup_keys')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_pk', 'text', (c) => c.notNull())
        .addColumn('first_seen', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('dedup_keys_pk', ['env_id', 'event_name', 'event_id'])
        .execute();

      await db.schema
        .createTable('identity_links')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('key_type', 'text', (c) => c.notNull())
        .addColumn('key_value', 'text', (c) => c.notNull())
        .addColumn('anonymous_id', 'text', (c) => c.notNull())
        .addColumn('last_seen', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('identity_links_pk', [
          'env_id',
          'key_type',
          'key_value',
          'anonymous_id',
        ])
        .execute();

      await db.schema
        .createTable('conversions')
        .addColumn('conversion_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('event_pk', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_time', sql.raw(big), (c) => c.notNull())
        .addColumn('value', sql.raw(real))
        .addColumn('currency', 'text')
        .addColumn('attributed', 'integer', (c) => c.notNull())
        .addColumn('attribution', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('conversions_pk', ['env_id', 'conversion_id', 'dest_id'])
        .execute();
      await db.schema
        .createIndex('conversions_by_time')
        .on('conversions')
        .columns(['env_id', 'created_at_ms'])
        .execute();
      await db.schema
        .createIndex('conversions_by_event')
        .on('conversions')
        .columns(['event_pk'])
        .execute();

      await db.schema
        .createTable('outbox')
        .addColumn('id', sql.raw(serial), (c) =>
          dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('conversion_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('first_attempt_at_ms', sql.raw(big))
        .addColumn('lease_until_ms', sql.raw(big))
        .addColumn('lease_owner', 'text')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('delivered_at_ms', sql.raw(big))
        .addUniqueConstraint('outbox_one_per_conversion', ['env_id', 'conversion_id', 'dest_id'])
        .execute();
      await db.schema
        .createIndex('outbox_due')
        .on('outbox')
        .columns(['status', 'next_attempt_at_ms'])
        .execute();

      await db.schema
        .createTable('delivery_attempts')
        .addColumn('id', sql.raw(serial), (c) =>
          dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('outbox_id', sql.raw(big), (c) => c.notNull())
        .addColumn('at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('response_excerpt', 'text')
        .execute();
      await db.schema
        .createIndex('attempts_by_outbox')
        .on('delivery_attempts')
        .column('outbox_id')
        .execute();

      await db.schema
        .createTable('destination_state')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('destination_state_pk', ['env_id', 'dest_id'])
        .execute();
    },
  };
}

export default defineMigration('0001_initial', initial);
