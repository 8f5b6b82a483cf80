import type { Kysely } from 'kysely';
import { chunks } from './chunks.js';
import type { Database } from './schema.js';
import type { ImportKey } from './store.js';

/** Event ids per lookup or insert statement (4 bound values a row on insert). */
const LEDGER_CHUNK = 500;

const keyOf = (name: string, id: string) => `${name}\u0000${id}`;

/**
 * For each key, whether the ledger holds it. One query per event name and slice of ids, each
 * an index range of the primary key `(env_id, event_name, event_id)`: an import of a few
 * hundred rows costs a query, whatever the size of the ledger.
 */
export async function importedKeys(
  db: Kysely<Database>,
  env_id: string,
  keys: readonly ImportKey[],
): Promise<boolean[]> {
  const idsByName = new Map<string, string[]>();
  for (const k of keys) {
    const ids = idsByName.get(k.event_name) ?? [];
    ids.push(k.event_id);
    idsByName.set(k.event_name, ids);
  }
  const held = new Set<string>();
  for (const [name, ids] of idsByName) {
    for (const slice of chunks([...new Set(ids)], LEDGER_CHUNK)) {
      const rows = await db
        .selectFrom('import_keys')
        .select('event_id')
        .where('env_id', '=', env_id)
        .where('event_name', '=', name)
        .where('event_id', 'in', slice)
        .execute();
      for (const r of rows) held.add(keyOf(name, r.event_id));
    }
  }
  return keys.map((k) => held.has(keyOf(k.event_name, k.event_id)));
}

/** Adds the keys to the ledger; a key already there keeps its first time. */
export async function rememberImported(
  db: Kysely<Database>,
  env_id: string,
  keys: readonly ImportKey[],
  now_ms: number,
): Promise<void> {
  // One statement must not name a row twice (PostgreSQL refuses it).
  const unique = new Map(keys.map((k) => [keyOf(k.event_name, k.event_id), k]));
  const rows = [...unique.values()].map((k) => ({
    env_id,
    event_name: k.event_name,
    event_id: k.event_id,
    imported_at_ms: now_ms,
  }));
  for (const slice of chunks(rows, LEDGER_CHUNK))
    await db
      .insertInto('import_keys')
      .values(slice)
      .onConflict((oc) => oc.columns(['env_id', 'event_name', 'event_id']).doNothing())
      .execute();
}

/** Deletes the keys noted before `before_ms` (their events are gone too); how many went. */
export async function purgeImportKeys(db: Kysely<Database>, before_ms: number): Promise<number> {
  const r = await db
    .deleteFrom('import_keys')
    .where('imported_at_ms', '<', before_ms)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
