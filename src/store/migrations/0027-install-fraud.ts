import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 25, install fraud checks. Conversions get `fraud`, the checks that fired for them
 * (a JSON list: `click_injection`, `click_flooding`, `suspicious_install`), with a partial
 * index the health page counts the last 24 h by. Click flooding counts one device's or one
 * address's clicks in the hour around a click: partial indexes on clicks alone keep that
 * count a short index range however many impressions share the address (a carrier NAT).
 * On PostgreSQL an index made on the partitioned `touches` reaches every day partition.
 */
export const installFraudMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('conversions').addColumn('fraud', 'text').execute();
    await db.schema
      .createIndex('conversions_fraud')
      .ifNotExists()
      .on('conversions')
      .columns(['env_id', 'created_at_ms'])
      .where(sql.ref('fraud'), 'is not', null)
      .execute();
    for (const col of ['anonymous_id', 'ip'] as const) {
      await db.schema
        .createIndex(`touches_clicks_by_${col}`)
        .ifNotExists()
        .on('touches')
        .columns(['env_id', col, 'time'])
        .where(sql.ref('kind'), '=', 'click')
        .execute();
    }
  },
};

export default defineMigration('0027_install_fraud', installFraudMigration);
