import type { Kysely, Selectable } from 'kysely';
import { touchViewOf, viewKey } from '../../domain/viewability.js';
import type { Dialect } from '../migrations/define.js';
import type { Database, TouchesTable } from '../schema.js';
import type { ListedTouch, TouchFilter } from '../store.js';
import { findViews } from './impression-views.js';
import { touchFromRow } from './row-mappers.js';

/** The newer first: time, then id, both descending (the list's order). */
const newer = (a: { time: unknown; id: unknown }, b: { time: unknown; id: unknown }) =>
  Number(b.time) - Number(a.time) || Number(b.id) - Number(a.id);

/**
 * The reads of the newest touches matching a filter, each newest first. On SQLite, without an
 * impression or click id, human touches and the rest are read apart, each along an index of
 * its own in that order (touches_human_by_env_time, 0043, and touches_not_human_by_time,
 * 0032), and the two merged (listTouches): in one query SQLite had no such index and read
 * every touch of the environment to sort them (demo store, 1,000,000 touches: 222 ms a call).
 * PostgreSQL reads them in one query along touches_by_env_time (env_id, time, id), in each
 * day partition; its touches_not_human_by_time has no id to give the list's order.
 */
export function touchListReads(db: Kysely<Database>, dialect: Dialect, f: TouchFilter) {
  const newest = () => {
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
    return q;
  };
  if (dialect !== 'sqlite' || f.imp_id !== undefined || f.click_id !== undefined) return [newest()];
  return [newest().where('traffic', 'is', null), newest().where('traffic', 'is not', null)];
}

/** The newest touches matching a filter (touchListReads), impressions with their viewability. */
export async function listTouches(
  db: Kysely<Database>,
  dialect: Dialect,
  f: TouchFilter,
): Promise<ListedTouch[]> {
  const rows: Selectable<TouchesTable>[] = [];
  for (const read of touchListReads(db, dialect, f)) rows.push(...(await read.execute()));
  rows.sort(newer).splice(f.limit);
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
