import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0013_match_type (issue 19): conversions get the credited touch's match class,
 * `deterministic` or `probabilistic`, as a column, so reports split conversions by it
 * without reading the attribution JSON of each row. Rows stored before take it from their
 * `match_key` (`ip+ua` and `ip` are the probabilistic keys). The reports' covering index
 * (0003_dashboard_touch_days) is rebuilt with it, so they still read no table row.
 */
export function matchTypeMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('conversions').addColumn('match_type', 'text').execute();
      const key =
        dialect === 'postgres'
          ? sql.raw(`(attribution::json ->> 'match_key')`)
          : sql.raw(`json_extract(attribution, '$.match_key')`);
      await sql`update conversions set match_type = case when ${key} in ('ip+ua', 'ip')
        then 'probabilistic' else 'deterministic' end
        where attribution is not null`.execute(db);
      await db.schema.dropIndex('conversions_report').execute();
      await db.schema
        .createIndex('conversions_report')
        .on('conversions')
        .columns([
          'env_id',
          'event_time',
          'is_test',
          'conversion_id',
          'attributed',
          'attr_type',
          'match_type',
          'value',
          'campaign_id',
          'creative_id',
          'dest_id',
        ])
        .execute();
    },
  };
}

export default defineMigration('0013_match_type', matchTypeMigration);
