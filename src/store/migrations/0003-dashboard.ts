import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0003_dashboard: what the reports and the debugger read.
 * - conversions get the credited touch's type, campaign and creative as columns (reports
 *   group 100k+ rows by them; reading JSON per row would be too slow) and `is_test`
 *   (events sent with a test code are stored and shown, never delivered nor reported);
 * - `campaign_costs`: spend per campaign and UTC day, for cost per conversion and ROAS;
 * - an index for conversion reports by event time. Touch reports use the existing
 *   `touches_by_time`: another index on touches would slow the pixel's hot path.
 */
export function dashboardMigration(dialect: Dialect): Migration {
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>) {
      for (const col of ['attr_type', 'campaign_id', 'creative_id']) {
        await db.schema.alterTable('conversions').addColumn(col, 'text').execute();
      }
      await db.schema
        .alterTable('conversions')
        .addColumn('is_test', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      const field = (name: string) =>
        dialect === 'postgres'
          ? sql.raw(`(attribution::json ->> '${name}')`)
          : sql.raw(`json_extract(attribution, '$.${name}')`);
      await sql`update conversions set attr_type = ${field('type')},
        campaign_id = ${field('campaign_id')}, creative_id = ${field('creative_id')}
        where attribution is not null`.execute(db);
      await db.schema
        .createIndex('conversions_by_env_event_time')
        .on('conversions')
        .columns(['env_id', 'event_time'])
        .execute();
      await db.schema
        .createTable('campaign_costs')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('campaign_id', 'text', (c) => c.notNull())
        .addColumn('day', 'integer', (c) => c.notNull())
        .addColumn('cost', sql.raw(real), (c) => c.notNull())
        .addColumn('currency', 'text')
        .addPrimaryKeyConstraint('campaign_costs_pk', ['env_id', 'campaign_id', 'day'])
        .execute();
    },
  };
}

export default defineMigration('0003_dashboard', dashboardMigration);
