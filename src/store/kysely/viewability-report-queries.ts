import { type Kysely, type RawBuilder, sql } from 'kysely';
import { DAY_S } from '../../domain/report.js';
import { viewKey } from '../../domain/viewability.js';
import {
  dayOf,
  emptyViewabilityCounts,
  type ViewabilityCounts,
  type ViewabilityQuery,
  viewabilityKey,
} from '../../domain/viewability-report.js';
import type { Database } from '../schema.js';
import { findViews } from './impression-views.js';

/** View-through conversion rows read per slice. */
const CONVERSION_SLICE = 5000;

/** The touch column a group is keyed by (a day: integer division); null for the total. */
function touchKey(q: ViewabilityQuery): RawBuilder<unknown> | null {
  switch (q.group_by) {
    case 'campaign':
      return sql.ref('t.campaign_id');
    case 'placement':
      return sql.ref('t.placement_id');
    case 'creative':
      return sql.ref('t.creative_id');
    case 'destination':
      return sql.ref('t.dest_id');
    case 'day':
      return sql`(t.time / ${sql.lit(DAY_S)})`;
    case 'total':
      return null;
  }
}

interface CreditRow {
  conversion_id: string;
  dest_id: string;
  campaign_id: string | null;
  creative_id: string | null;
  event_time: number;
  attribution: string | null;
}

/** The group a view-through conversion counts in, from its row and its credited touch. */
function conversionKey(q: ViewabilityQuery, r: CreditRow, placement: string | null): unknown {
  switch (q.group_by) {
    case 'campaign':
      return r.campaign_id;
    case 'placement':
      return placement;
    case 'creative':
      return r.creative_id;
    case 'destination':
      return r.dest_id;
    case 'day':
      return dayOf(Number(r.event_time));
    case 'total':
      return null;
  }
}

/**
 * The served, measurable and viewable impressions of the range, by the report's group: one
 * scan of the environment's human impression touches of the range, with their viewability
 * rows: PostgreSQL along touches_by_env_time in the range's day partitions, SQLite along
 * touches_human_by_env_time (0043), a partial index that `traffic is null` below lets it use.
 * Before it, SQLite's (env_id, touch_id) index read every touch of the environment in id
 * order, random against the time order they are stored in (demo store, 1,000,000 touches:
 * 2.9-3.4 s, VRP01), and `+env_id` on the time index read every other environment's touches
 * of the range too.
 */
export function servedImpressions(q: ViewabilityQuery) {
  const k = touchKey(q);
  return sql<{ k: unknown; served: unknown; measurable: unknown; viewable: unknown }>`
    select ${k ?? sql`null`} as k, count(*) as served,
      sum(case when v.measurable = 1 then 1 else 0 end) as measurable,
      sum(case when v.viewable = 1 then 1 else 0 end) as viewable
    from touches t left join impression_views v
      on v.env_id = t.env_id and v.dest_id = t.dest_id and v.imp_id = t.touch_id
    where t.env_id = ${q.env_id} and t.kind = 'impression' and t.traffic is null
      and t.time >= ${Math.floor(q.from_s)} and t.time < ${Math.floor(q.to_s)}
      ${q.dest_id ? sql`and t.dest_id = ${q.dest_id}` : sql``}
      ${q.campaign_id ? sql`and t.campaign_id = ${q.campaign_id}` : sql``}
    ${k ? sql`group by ${k}` : sql``}`;
}

/**
 * Adds up a viewability report (domain/viewability-report.ts): served, measurable and viewable
 * impressions of the range (one scan of its impression touches with their viewability rows),
 * and its view-through conversions with whether the credited impression was viewable (their
 * attribution read in slices, the impressions' rows by primary key).
 */
export async function viewabilityCounts(
  db: Kysely<Database>,
  q: ViewabilityQuery,
): Promise<ViewabilityCounts[]> {
  const out = new Map<string, ViewabilityCounts>();
  const entry = (k: unknown) => {
    const key = viewabilityKey(q.group_by, k);
    let c = out.get(key);
    if (!c) {
      c = emptyViewabilityCounts(key);
      out.set(key, c);
    }
    return c;
  };
  const from = Math.floor(q.from_s);
  const to = Math.floor(q.to_s);
  const touches = await servedImpressions(q).execute(db);
  for (const r of touches.rows) {
    const c = entry(r.k);
    c.served += Number(r.served);
    c.measurable += Number(r.measurable ?? 0);
    c.viewable += Number(r.viewable ?? 0);
  }

  let base = db
    .selectFrom('conversions')
    .select(['conversion_id', 'dest_id', 'campaign_id', 'creative_id', 'event_time', 'attribution'])
    .where('env_id', '=', q.env_id)
    .where('is_test', '=', 0)
    .where('attributed', '=', 1)
    .where('attr_type', '=', 'view')
    .where('event_time', '>=', from)
    .where('event_time', '<', to);
  if (q.dest_id) base = base.where('dest_id', '=', q.dest_id);
  if (q.campaign_id) base = base.where('campaign_id', '=', q.campaign_id);
  // The deduplicated view counts each conversion once: its winning destination's row.
  if (q.view === 'deduplicated') base = base.where('dedup_row', '=', 1);
  // Slices by key (the last row read), so a long range costs linear time, never a rescan.
  let after: CreditRow | null = null;
  for (;;) {
    const last = after;
    const slice = last
      ? base.where(
          sql<boolean>`(event_time, conversion_id, dest_id) > (${last.event_time}, ${last.conversion_id}, ${last.dest_id})`,
        )
      : base;
    const rows = (await slice
      .orderBy('event_time')
      .orderBy('conversion_id')
      .orderBy('dest_id')
      .limit(CONVERSION_SLICE)
      .execute()) as CreditRow[];
    const credits = rows.map((r) => {
      const a = r.attribution
        ? (JSON.parse(r.attribution) as { imp_id?: string | null; placement_id?: string | null })
        : {};
      return { r, imp: a.imp_id ?? null, placement: a.placement_id ?? null };
    });
    // A view-through credit is its destination's impression: the row of (dest_id, imp_id).
    const refs = credits.flatMap((c) => (c.imp ? [{ dest_id: c.r.dest_id, imp_id: c.imp }] : []));
    const views = refs.length === 0 ? new Map() : await findViews(db, q.env_id, refs);
    for (const { r, imp, placement } of credits) {
      const c = entry(conversionKey(q, r, placement));
      c.view_conversions++;
      if (imp && views.get(viewKey(q.env_id, r.dest_id, imp))?.viewable)
        c.viewable_view_conversions++;
    }
    if (rows.length < CONVERSION_SLICE) break;
    after = rows[rows.length - 1];
  }
  return [...out.values()];
}
