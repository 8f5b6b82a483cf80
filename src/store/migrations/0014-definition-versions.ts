import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0011_definition_versions: one counter per kind of definition that processes keep in
 * memory (saved destinations, audiences), moved on in the transaction of every write. Other
 * processes poll it every 2 s and reload when it moved. A small global table: with Citus it
 * would be a reference table.
 */
export function definitionVersionsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('definition_versions')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('version', sql.raw(big), (c) => c.notNull())
        .execute();
    },
  };
}

export default defineMigration('0011_definition_versions', definitionVersionsMigration);
