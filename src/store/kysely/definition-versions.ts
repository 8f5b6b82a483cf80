import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Definitions kept in memory by every process and watched through a version counter. */
export type DefinitionKind = 'stored_destinations' | 'audiences' | 'holdouts';

/**
 * Moves the kind's version on. Call it inside the transaction of the write it announces: a
 * process that read the new version reads the new definitions too. The counter only grows,
 * so a delete never brings back a version a process already holds (a count or newest stamp
 * of the table could: create then delete).
 */
export async function bumpDefinitionVersion(
  db: Kysely<Database>,
  name: DefinitionKind,
): Promise<void> {
  await db
    .insertInto('definition_versions')
    .values({ name, version: 1 })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet((eb) => ({ version: eb('definition_versions.version', '+', 1) })),
    )
    .execute();
}

/** The kind's version: one primary-key read, cheap enough to poll every 2 s. */
export async function definitionVersion(
  db: Kysely<Database>,
  name: DefinitionKind,
): Promise<string> {
  const row = await db
    .selectFrom('definition_versions')
    .select('version')
    .where('name', '=', name)
    .executeTakeFirst();
  return String(Number(row?.version ?? 0));
}
