import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0024_holdouts (issue 23 §3): holdouts of audiences and campaigns, and who entered each
 * test when. The group of a person is not stored: it is the hash of the person id against
 * the fraction in force when they entered (`fractions`, a JSON list of every fraction the
 * holdout had), so every process answers the same without reading a row. One holdout per
 * audience or campaign at a time.
 */
export function holdoutsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('holdouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('subject_type', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('salt', 'text', (c) => c.notNull())
        .addColumn('fractions', 'text', (c) => c.notNull())
        .addColumn('conversion_events', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('updated_at_ms', sql.raw(big), (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('holdouts_by_subject')
        .unique()
        .on('holdouts')
        .columns(['env_id', 'subject_type', 'subject_id'])
        .execute();
      await db.schema
        .createTable('holdout_entries')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('holdout_id', 'text', (c) => c.notNull())
        .addColumn('person', 'text', (c) => c.notNull())
        .addColumn('entered_at', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('holdout_entries_pk', ['holdout_id', 'person'])
        .execute();
      // The lift report reads a holdout's entries of a range; erasure finds a person's.
      await db.schema
        .createIndex('holdout_entries_by_time')
        .on('holdout_entries')
        .columns(['holdout_id', 'entered_at'])
        .execute();
      await db.schema
        .createIndex('holdout_entries_by_person')
        .on('holdout_entries')
        .columns(['env_id', 'person'])
        .execute();
    },
  };
}

export default defineMigration('0024_holdouts', holdoutsMigration);
