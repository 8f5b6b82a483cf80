import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0026_apple_postbacks: SKAdNetwork and AdAttributionKit postbacks as received (issue 25),
 * verified or not. `env_id` is the environment of the advertised app (config `apps`), ''
 * while no environment claims it. Two unique keys, both led by env_id like every other
 * (distributable by env_id): one per distinct body of a transaction id (an identical copy
 * only counts a duplicate), and at most one VERIFIED row per transaction id and conversion
 * window, the one reports count; a changed copy of it is stored apart, unverified.
 */
export function applePostbacksMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('apple_postbacks')
        .addColumn('id', sql.raw(serial), (c) =>
          dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('framework', 'text', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('transaction_id', 'text', (c) => c.notNull())
        .addColumn('sequence_index', 'integer', (c) => c.notNull())
        .addColumn('ad_network_id', 'text')
        .addColumn('app_id', 'text')
        .addColumn('campaign_id', 'text')
        .addColumn('source_identifier', 'text')
        .addColumn('source_app_id', 'text')
        .addColumn('source_domain', 'text')
        .addColumn('fine_value', 'integer')
        .addColumn('coarse_value', 'text')
        .addColumn('did_win', 'integer')
        .addColumn('redownload', 'integer')
        .addColumn('conversion_type', 'text')
        .addColumn('fidelity_type', 'integer')
        .addColumn('interaction_type', 'text')
        .addColumn('country_code', 'text')
        .addColumn('marketplace_id', 'text')
        .addColumn('verified', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('reason_detail', 'text')
        .addColumn('key_id', 'text')
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('body_sha256', 'text', (c) => c.notNull())
        .addColumn('received_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('duplicates', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('apple_postbacks_by_body')
        .on('apple_postbacks')
        .columns(['env_id', 'framework', 'transaction_id', 'sequence_index', 'body_sha256'])
        .unique()
        .execute();
      await db.schema
        .createIndex('apple_postbacks_counted')
        .on('apple_postbacks')
        .columns(['env_id', 'framework', 'transaction_id', 'sequence_index'])
        .unique()
        .where(sql.ref('verified'), '=', 1)
        .execute();
      // Reports read an environment's postbacks by arrival; the purge (with events) by age.
      await db.schema
        .createIndex('apple_postbacks_by_time')
        .on('apple_postbacks')
        .columns(['env_id', 'received_at_ms'])
        .execute();
      await db.schema
        .createIndex('apple_postbacks_by_age')
        .on('apple_postbacks')
        .column('received_at_ms')
        .execute();
    },
  };
}

export default defineMigration('0026_apple_postbacks', applePostbacksMigration);
