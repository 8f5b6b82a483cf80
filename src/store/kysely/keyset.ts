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

/**
 * A page's rows in keyset order (`before`), the order its last row is the next cursor in: as
 * they came, checked in one pass, else sorted. A page built by a database aggregate comes in
 * its subquery's order in practice, but no SQL standard says it must.
 */
export function inKeysetOrder<T>(rows: T[], before: (a: T, b: T) => number): T[] {
  for (let i = 1; i < rows.length; i++)
    if (before(rows[i - 1], rows[i]) > 0) return rows.sort(before);
  return rows;
}
