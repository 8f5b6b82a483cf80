import { type Kysely, type Migration, sql } from 'kysely';

/** The SQL dialect a migration is written for; only column types differ between them. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * One schema step. `name` is what `kysely_migration` records once it ran: existing databases
 * know their schema by it, so it never changes, even though the file's number may differ
 * from the number in the name (the files were numbered after the fact, in the order the names
 * already applied in).
 */
export interface NumberedMigration {
  readonly name: string;
  build(dialect: Dialect): Migration;
}

export function defineMigration(
  name: string,
  migration: Migration | ((dialect: Dialect) => Migration),
): NumberedMigration {
  return {
    name,
    build: (dialect) => (typeof migration === 'function' ? migration(dialect) : migration),
  };
}

/**
 * Runs a SQLite migration's statements as one transaction. Kysely runs SQLite migrations
 * outside any (its adapter declares no transactional DDL), but SQLite's DDL is
 * transactional: a table rebuilt by copy (create, copy, drop, rename) that is interrupted by
 * a killed start would otherwise leave a half-made table that stops every later start.
 */
export async function sqliteAtomically(
  db: Kysely<unknown>,
  steps: () => Promise<void>,
): Promise<void> {
  await sql`begin immediate`.execute(db);
  try {
    await steps();
    await sql`commit`.execute(db);
  } catch (err) {
    await sql`rollback`.execute(db);
    throw err;
  }
}
