import type { Migration } from 'kysely';

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
