import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 23 §2: imported daily costs. A cost is kept per campaign, channel ('' when the import
 * names none) and UTC day, so an import of the same days replaces them; it may say the
 * source and medium it bought, the impressions and clicks it paid for, and when it came.
 * The primary key gains `channel`: the table is made again with the rows it held (their
 * channel '').
 */
export function costsMigration(dialect: Dialect): Migration {
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('campaign_costs_0023')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('campaign_id', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('day', 'integer', (c) => c.notNull())
        .addColumn('cost', sql.raw(real), (c) => c.notNull())
        .addColumn('currency', 'text')
        .addColumn('source', 'text')
        .addColumn('medium', 'text')
        .addColumn('impressions', sql.raw(big))
        .addColumn('clicks', sql.raw(big))
        .addColumn('updated_at_ms', sql.raw(big))
        .addPrimaryKeyConstraint('campaign_costs_key', ['env_id', 'campaign_id', 'channel', 'day'])
        .execute();
      await sql`insert into campaign_costs_0023 (env_id, campaign_id, channel, day, cost, currency)
        select env_id, campaign_id, '', day, cost, currency from campaign_costs`.execute(db);
      await db.schema.dropTable('campaign_costs').execute();
      await db.schema.alterTable('campaign_costs_0023').renameTo('campaign_costs').execute();
      await db.schema
        .createIndex('campaign_costs_by_day')
        .on('campaign_costs')
        .columns(['env_id', 'day'])
        .execute();
    },
  };
}

export default defineMigration('0023_costs', costsMigration);
