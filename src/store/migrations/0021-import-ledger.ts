import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0017_import_ledger: the `(env_id, event_name, event_id)` of every row a CSV import stored
 * (issue 20 §4), kept as long as events are, so a file imported again adds nothing however
 * long after. The 48 h dedup keys cannot do it: they go when their window ends. Only imports
 * write here, so the events API's ingest path pays nothing for it.
 */
export function importLedgerMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('import_keys')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('imported_at_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('import_keys_pk', ['env_id', 'event_name', 'event_id'])
        .execute();
      // The purge deletes by age, with the events.
      await db.schema
        .createIndex('import_keys_by_time')
        .on('import_keys')
        .column('imported_at_ms')
        .execute();
    },
  };
}

export default defineMigration('0017_import_ledger', importLedgerMigration);
