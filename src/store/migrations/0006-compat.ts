import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0005_compat: codeless trigger rules, one rule set (JSON) per environment, keyed by env_id
 * alone so the table stays distributable by it.
 */
export function compatMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('trigger_rules')
        .addColumn('env_id', 'text', (c) => c.primaryKey())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .execute();
    },
  };
}

export default defineMigration('0005_compat', compatMigration);
