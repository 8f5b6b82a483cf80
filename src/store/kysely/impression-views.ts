import { type Kysely, type Selectable, sql } from 'kysely';
import { type ImpressionView, mergeViewBatch, viewKey } from '../../domain/viewability.js';
import type { Dialect } from '../migrations/define.js';
import type { Database, ImpressionViewsTable } from '../schema.js';
import { chunks } from './chunks.js';
import { deleteInBatches, type PurgeRun } from './purge-in-batches.js';

// What the viewability tag measured of each impression (migration 0025): written by an upsert
// keyed by (env_id, dest_id, imp_id) (migration 0038), so a signal may arrive before or after
// its impression's touch, and two destinations' impressions of one id stay apart.

/** Rows per upsert (10 bound values each) and ids per lookup. */
const VIEW_CHUNK = 200;

export function viewFromRow(r: Selectable<ImpressionViewsTable>): ImpressionView {
  return {
    env_id: r.env_id,
    imp_id: r.imp_id,
    dest_id: r.dest_id,
    measurable: Number(r.measurable) === 1,
    viewable: Number(r.viewable) === 1,
    time_to_view_ms: r.time_to_view_ms === null ? null : Number(r.time_to_view_ms),
    max_share: r.max_share === null ? null : Number(r.max_share),
    video: Number(r.video) === 1,
    first_ms: Number(r.first_ms),
    updated_ms: Number(r.updated_ms),
  };
}

/** The columns of a row, in the order `viewValues` and `SQLITE_VIEW_UPSERT` list them. */
const VIEW_COLUMNS = [
  'env_id',
  'imp_id',
  'dest_id',
  'measurable',
  'viewable',
  'time_to_view_ms',
  'max_share',
  'video',
  'first_ms',
  'updated_ms',
] as const satisfies ReadonlyArray<keyof ImpressionViewsTable>;

/** How each column merges with the stored row: upsertViews's rule, as SQLite text. */
const SQLITE_MERGE: Record<(typeof VIEW_COLUMNS)[number], string | null> = {
  env_id: null,
  imp_id: null,
  dest_id: null,
  measurable: 'max',
  viewable: 'max',
  time_to_view_ms: 'min',
  max_share: 'max',
  video: 'max',
  first_ms: 'min',
  updated_ms: 'max',
};

/**
 * One row's upsert for SQLite's writer thread (sqlite/touch-writer-thread.ts), merging as
 * upsertViews does; its values are `viewValues` of a row.
 */
export const SQLITE_VIEW_UPSERT = `INSERT INTO impression_views (${VIEW_COLUMNS.join(', ')})
  VALUES (${VIEW_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (env_id, dest_id, imp_id) DO UPDATE SET ${Object.entries(SQLITE_MERGE)
    .filter(([, m]) => m !== null)
    .map(([c, m]) =>
      m?.includes('(')
        ? `${c} = ${m}`
        : `${c} = ${m}(coalesce(impression_views.${c}, excluded.${c}), coalesce(excluded.${c}, impression_views.${c}))`,
    )
    .join(', ')}`;

/** A batch as value lists in VIEW_COLUMNS order, one row per impression. */
export function viewValues(views: readonly ImpressionView[]): unknown[][] {
  return mergeViewBatch(views).map((v) => {
    const row = rowOf(v);
    return VIEW_COLUMNS.map((c) => row[c]);
  });
}

function rowOf(v: ImpressionView): ImpressionViewsTable {
  return {
    env_id: v.env_id,
    imp_id: v.imp_id,
    dest_id: v.dest_id,
    measurable: v.measurable ? 1 : 0,
    viewable: v.viewable ? 1 : 0,
    time_to_view_ms: v.time_to_view_ms,
    max_share: v.max_share,
    video: v.video ? 1 : 0,
    first_ms: v.first_ms,
    updated_ms: v.updated_ms,
  };
}

/**
 * Merges each row into the one stored for its impression as domain/viewability.ts's
 * mergeViews does: flags once set stay set, the earliest time to viewable and the largest
 * share win. SQLite's scalar max/min and PostgreSQL's greatest/least; nulls are taken care of
 * with coalesce, since SQLite's max(1, null) is null.
 */
export async function upsertViews(
  db: Kysely<Database>,
  dialect: Dialect,
  views: readonly ImpressionView[],
): Promise<void> {
  const [hi, lo] = dialect === 'postgres' ? ['greatest', 'least'] : ['max', 'min'];
  const both = <T>(fn: string, col: string) =>
    sql.raw<T>(
      `${fn}(coalesce("impression_views"."${col}", excluded."${col}"), coalesce(excluded."${col}", "impression_views"."${col}"))`,
    );
  for (const slice of chunks(mergeViewBatch(views), VIEW_CHUNK)) {
    await db
      .insertInto('impression_views')
      .values(slice.map(rowOf))
      .onConflict((oc) =>
        oc.columns(['env_id', 'dest_id', 'imp_id']).doUpdateSet({
          measurable: both<number>(hi, 'measurable'),
          viewable: both<number>(hi, 'viewable'),
          time_to_view_ms: both<number | null>(lo, 'time_to_view_ms'),
          max_share: both<number | null>(hi, 'max_share'),
          video: both<number>(hi, 'video'),
          first_ms: both<number>(lo, 'first_ms'),
          updated_ms: both<number>(hi, 'updated_ms'),
        }),
      )
      .execute();
  }
}

/** An impression as its viewability row is keyed: the destination that served it, its id. */
export interface ViewRef {
  dest_id: string;
  imp_id: string;
}

/**
 * The stored rows of these impressions, by viewKey (one primary-key probe each): the ids are
 * looked up together and each row kept only for its own destination.
 */
export async function findViews(
  db: Kysely<Database>,
  env_id: string,
  refs: readonly ViewRef[],
): Promise<Map<string, ImpressionView>> {
  const wanted = new Set(refs.map((r) => viewKey(env_id, r.dest_id, r.imp_id)));
  const out = new Map<string, ImpressionView>();
  for (const slice of chunks([...new Set(refs.map((r) => r.imp_id))], VIEW_CHUNK)) {
    const rows = await db
      .selectFrom('impression_views')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('dest_id', 'in', [...new Set(refs.map((r) => r.dest_id))])
      .where('imp_id', 'in', slice)
      .execute();
    for (const r of rows) {
      const key = viewKey(env_id, r.dest_id, r.imp_id);
      if (wanted.has(key)) out.set(key, viewFromRow(r));
    }
  }
  return out;
}

/** Deletes the rows first seen before `before_ms` (their touches are gone too). */
export function purgeViews(run: PurgeRun, before_ms: number): Promise<number> {
  return deleteInBatches(run, 'impression_views', sql`first_ms < ${before_ms}`);
}
