import { type RawBuilder, type SqlBool, sql } from 'kysely';

/**
 * The rows after `(at, id)` in `(timeCol, idCol)` order: where the next page of a keyset walk
 * starts. The caller also bounds `timeCol >= at` on its own, so that the index on the time
 * column starts its range at the page rather than at the walk's beginning.
 */
export function afterKey(
  timeCol: string,
  idCol: string,
  at: number,
  id: string,
): RawBuilder<SqlBool> {
  const t = sql.ref(timeCol);
  return sql<SqlBool>`(${t} > ${at} or (${t} = ${at} and ${sql.ref(idCol)} > ${id}))`;
}
