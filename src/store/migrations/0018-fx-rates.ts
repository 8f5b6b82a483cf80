import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0015_fx_rates: exchange rates saved through `/api/fx-rates`, one per pair and UTC day
 * (`day` = Unix days). Rates are market facts every environment shares, so the table is
 * global, not keyed by env_id: with Citus it would be a reference table.
 */
export function fxRatesMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('fx_rates')
        .addColumn('base', 'text', (c) => c.notNull())
        .addColumn('quote', 'text', (c) => c.notNull())
        .addColumn('day', 'integer', (c) => c.notNull())
        .addColumn('rate', sql.raw(real), (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('fx_rates_pk', ['base', 'quote', 'day'])
        .execute();
    },
  };
}

export default defineMigration('0015_fx_rates', fxRatesMigration);
