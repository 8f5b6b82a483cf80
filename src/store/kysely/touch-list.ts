import type { Kysely } from 'kysely';
import { touchViewOf, viewKey } from '../../domain/viewability.js';
import type { Database } from '../schema.js';
import type { ListedTouch, TouchFilter } from '../store.js';
import { findViews } from './impression-views.js';
import { touchFromRow } from './row-mappers.js';

/**
 * The newest touches matching a filter, each impression with what the viewability tag
 * measured of it (its `impression_views` row, read by primary key).
 */
export async function listTouches(db: Kysely<Database>, f: TouchFilter): Promise<ListedTouch[]> {
  let q = db
    .selectFrom('touches')
    .selectAll()
    .where('env_id', '=', f.env_id)
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
