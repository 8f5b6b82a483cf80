import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../migrations/define.js';
import type { Database } from '../schema.js';
import type { ImportKey } from '../store.js';
import { chunks } from './chunks.js';
import { deleteInBatches, type PurgeRun } from './purge-in-batches.js';

/** Event ids per lookup or insert statement (4 bound values a row on insert). */
const LEDGER_CHUNK = 500;

const keyOf = (name: string, id: string) => `${name}\u0000${id}`;

/** The ids of `ids` the ledger holds under `(env_id, name)`. */
async function heldIds(
  db: Kysely<Database>,
  dialect: Dialect,
  env_id: string,
  name: string,
  ids: readonly string[],
): Promise<string[]> {
  if (dialect === 'postgres') {
    // One index probe per id, whatever the planner's statistics say: with `= any(...)` a
    // table not yet analysed after a big import was read whole for each chunk (60 ms a
    // chunk at 200,000 keys; 2.5 ms this way).
    const { rows } = await sql<{ event_id: string }>`select k.id as event_id
      from unnest(${ids}::text[]) as k(id)
      cross join lateral (select 1 from import_keys i where i.env_id = ${env_id}
        and i.event_name = ${name} and i.event_id = k.id limit 1) held`.execute(db);
    return rows.map((r) => r.event_id);
  }
  const rows = await db
    .selectFrom('import_keys')
    .select('event_id')
    .where('env_id', '=', env_id)
    .where('event_name', '=', name)
    .where('event_id', 'in', ids)
    .execute();
  return rows.map((r) => r.event_id);
}

/**
 * For each key, whether the ledger holds it. One query per event name and slice of ids, each
 * id an index probe of the primary key `(env_id, event_name, event_id)`: a chunk of rows costs
 * about the same whatever the size of the ledger.
 */
export async function importedKeys(
  db: Kysely<Database>,
  dialect: Dialect,
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
  for (const [name, ids] of idsByName)
    for (const slice of chunks([...new Set(ids)], LEDGER_CHUNK))
      for (const id of await heldIds(db, dialect, env_id, name, slice)) held.add(keyOf(name, id));
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
export function purgeImportKeys(run: PurgeRun, before_ms: number): Promise<number> {
  return deleteInBatches(run, 'import_keys', sql`imported_at_ms < ${before_ms}`);
}
