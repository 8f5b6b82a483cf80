import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 9: the outbox carries jobs besides conversions (audience add/remove batches), so
 * they get its lease, retries, attempt log and dead-letter. `kind` tells them apart;
 * `payload` holds what a job sends (no secrets: credentials are read from the config when
 * it is sent); their attempts are delivery attempts, so `audience_sync_attempts` goes.
 * Audiences may sync to a destination on a schedule (`audience_schedules`).
 */
export function outboxJobsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('outbox')
        .addColumn('kind', 'text', (c) => c.notNull().defaultTo('conversion'))
        .execute();
      await db.schema.alterTable('outbox').addColumn('payload', 'text').execute();
      // Sync attempts are now the outbox's delivery attempts.
      await db.schema.dropTable('audience_sync_attempts').execute();
      await db.schema
        .createTable('audience_schedules')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('audience_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text', (c) => c.notNull())
        .addColumn('platform_audience_id', 'text', (c) => c.notNull())
        .addColumn('advertiser_id', 'text')
        .addColumn('every_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('next_run_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('last_run_at_ms', sql.raw(big))
        .addPrimaryKeyConstraint('audience_schedules_pk', ['env_id', 'audience_id', 'dest_id'])
        .execute();
      await db.schema
        .createIndex('audience_schedules_due')
        .on('audience_schedules')
        .column('next_run_at_ms')
        .execute();
    },
  };
}

export default defineMigration('0010_outbox_jobs', outboxJobsMigration);
