import { type Kysely, sql } from 'kysely';
import { touchViewOf, viewKey } from '../../domain/viewability.js';
import type { Dialect } from '../migrations.js';
import type { Database } from '../schema.js';
import type { ListedTouch, TouchFilter } from '../store.js';
import { findViews } from './impression-views.js';
import { touchFromRow } from './row-mappers.js';

/**
 * The column the environment is matched on. SQLite has no (env_id, time) index on touches:
 * along (env_id, touch_id) it read every touch of the environment and sorted them to answer
 * the newest 50 (the debugger's list: 310 ms on the demo store's 1,000,000 touches), where
 * `+env_id` keeps it on `touches_by_time`, read newest first and stopped after the page
 * (0.5 ms). A touch id named is still found by its own index. The trade-off, as for the
 * journeys' pages: an environment with no recent touch in a store of several reads the
 * others' newer touches until it finds its own. PostgreSQL has `touches_by_env_time` (0042).
 */
function envOf(dialect: Dialect, f: TouchFilter) {
  const byTouchId = f.imp_id !== undefined || f.click_id !== undefined;
  return dialect === 'sqlite' && !byTouchId ? sql<string>`+env_id` : sql<string>`env_id`;
}

/** The statement of listTouches: the newest touches matching a filter. */
export function touchListQuery(db: Kysely<Database>, dialect: Dialect, f: TouchFilter) {
  let q = db
    .selectFrom('touches')
    .selectAll()
    .where(envOf(dialect, f), '=', f.env_id)
    .orderBy('time', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit);
  if (f.imp_id !== undefined)
    q = q.where('touch_id', '=', f.imp_id).where('kind', '=', 'impression');
  if (f.click_id !== undefined)
    q = q.where('touch_id', '=', f.click_id).where('kind', '=', 'click');
  if (f.kind !== undefined) q = q.where('kind', '=', f.kind);
  if (f.campaign_id !== undefined) q = q.where('campaign_id', '=', f.campaign_id);
  if (f.since_s !== undefined) q = q.where('time', '>=', f.since_s);
  return q;
}

/**
 * The newest touches matching a filter, each impression with what the viewability tag
 * measured of it (its `impression_views` row, read by primary key).
 */
export async function listTouches(
  db: Kysely<Database>,
  dialect: Dialect,
  f: TouchFilter,
): Promise<ListedTouch[]> {
  const q = touchListQuery(db, dialect, f);
  const rows = await q.execute();
  const refs = rows
    .filter((r) => r.kind === 'impression')
    .map((r) => ({ dest_id: r.dest_id ?? '', imp_id: r.touch_id }));
  const views = refs.length === 0 ? new Map() : await findViews(db, f.env_id, refs);
  return rows.map((r) => {
    const touch = touchFromRow(r);
    const v =
      r.kind === 'impression'
        ? views.get(viewKey(f.env_id, r.dest_id ?? '', r.touch_id))
        : undefined;
    return {
      id: Number(r.id),
      touch: v ? { ...touch, view: touchViewOf(v) } : touch,
      view_updated_ms: v ? v.updated_ms : null,
    };
  });
}
