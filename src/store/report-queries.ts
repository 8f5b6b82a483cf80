import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Touch } from '../domain/event.js';
import {
  DAY_S,
  dayKey,
  emptyCounts,
  type ReportCounts,
  type ReportQuery,
} from '../reports/report.js';
import { touchDays } from '../reports/touch-days.js';
import type { Database } from './schema.js';

/** Day-count rows per upsert statement (7 bound values each). */
const TOUCH_DAY_CHUNK = 100;

/** The SQL expression a group is keyed by, per table (touches: `touch_days`); null for total. */
function keyColumn(q: ReportQuery, table: 'touches' | 'conversions'): RawBuilder<unknown> | null {
  switch (q.group_by) {
    case 'day':
      // Integer columns on both databases, so `/` is integer division: the UTC day.
      return table === 'touches' ? sql.ref('day') : sql`(event_time / ${sql.lit(DAY_S)})`;
    case 'campaign':
      return sql.ref('campaign_id');
    case 'creative':
      return sql.ref('creative_id');
    case 'destination':
      return sql.ref('dest_id');
    case 'total':
      return null;
  }
}

function keyText(q: ReportQuery, k: unknown): string {
  if (k === null || k === undefined) return '';
  return q.group_by === 'day' ? dayKey(Number(k)) : String(k);
}

/**
 * Adds up touches, conversions and costs of a report query, one entry per group. A
 * conversion is counted once per group however many destinations it went to; it is a
 * click-through conversion when any destination credited a click, and deterministic when any
 * destination credited a touch by a deterministic key.
 */
export async function reportCounts(db: Kysely<Database>, q: ReportQuery): Promise<ReportCounts[]> {
  const out = new Map<string, ReportCounts>();
  const entry = (k: unknown) => {
    const key = keyText(q, k);
    let c = out.get(key);
    if (!c) {
      c = emptyCounts(key);
      out.set(key, c);
    }
    return c;
  };
  const from = Math.floor(q.from_s);
  const to = Math.floor(q.to_s);
  const destWhere = q.dest_id ? sql`and dest_id = ${q.dest_id}` : sql``;
  const campaignWhere = q.campaign_id ? sql`and campaign_id = ${q.campaign_id}` : sql``;

  // Touches come from their day counts: whole UTC days, a few rows per day.
  const tk = keyColumn(q, 'touches');
  const touches = await sql<{ k: unknown; kind: string; n: unknown }>`
    select ${tk ?? sql`null`} as k, kind, sum(n) as n from touch_days
    where env_id = ${q.env_id} and day >= ${Math.floor(from / DAY_S)}
      and day < ${Math.ceil(to / DAY_S)} ${destWhere} ${campaignWhere}
    group by ${tk ? sql`${tk}, ` : sql``}kind`.execute(db);
  for (const r of touches.rows) {
    const c = entry(r.k === '' ? null : r.k);
    if (r.kind === 'impression') c.impressions += Number(r.n);
    else if (r.kind === 'click') c.clicks += Number(r.n);
  }

  const ck = keyColumn(q, 'conversions');
  // Campaigns and creatives exist only on attributed conversions.
  const attributedOnly =
    q.group_by === 'campaign' || q.group_by === 'creative' || q.campaign_id
      ? sql`and attributed = 1`
      : sql``;
  const conversions = await sql<{
    k: unknown;
    conversions: unknown;
    click_c: unknown;
    view_c: unknown;
    det_c: unknown;
    prob_c: unknown;
    unattributed: unknown;
    revenue: unknown;
  }>`
    select ${ck ? sql.ref('k') : sql`null`} as k, sum(a) as conversions,
      sum(case when a = 1 and c = 1 then 1 else 0 end) as click_c,
      sum(case when a = 1 and c = 0 then 1 else 0 end) as view_c,
      sum(case when a = 1 and d = 1 then 1 else 0 end) as det_c,
      sum(case when a = 1 and d = 0 then 1 else 0 end) as prob_c,
      sum(1 - a) as unattributed,
      sum(case when a = 1 then coalesce(v, 0) else 0 end) as revenue
    from (
      select ${ck ?? sql`null`} as k, conversion_id, max(attributed) as a,
        max(case when attr_type = 'click' then 1 else 0 end) as c,
        max(case when match_type = 'deterministic' then 1 else 0 end) as d, max(value) as v
      from conversions
      where env_id = ${q.env_id} and is_test = 0 and event_time >= ${from} and event_time < ${to}
        ${destWhere} ${campaignWhere} ${attributedOnly}
      group by ${ck ? sql`${ck}, ` : sql``}conversion_id
    ) per_conversion
    ${ck ? sql`group by k` : sql``}`.execute(db);
  for (const r of conversions.rows) {
    if (r.conversions === null) continue;
    const c = entry(r.k);
    c.conversions += Number(r.conversions);
    c.click_conversions += Number(r.click_c);
    c.view_conversions += Number(r.view_c);
    c.deterministic_conversions += Number(r.det_c);
    c.probabilistic_conversions += Number(r.prob_c);
    c.unattributed += Number(r.unattributed);
    c.revenue += Number(r.revenue ?? 0);
  }

  if (q.group_by === 'day' || q.group_by === 'campaign' || q.group_by === 'total') {
    const costKey =
      q.group_by === 'day'
        ? sql.ref('day')
        : q.group_by === 'campaign'
          ? sql.ref('campaign_id')
          : null;
    const costs = await sql<{ k: unknown; cost: unknown }>`
      select ${costKey ?? sql`null`} as k, sum(cost) as cost from campaign_costs
      where env_id = ${q.env_id} and day >= ${Math.floor(from / DAY_S)}
        and day < ${Math.ceil(to / DAY_S)} ${campaignWhere}
      ${costKey ? sql`group by ${costKey}` : sql``}`.execute(db);
    for (const r of costs.rows) {
      if (r.cost === null) continue;
      const c = entry(r.k);
      c.cost = (c.cost ?? 0) + Number(r.cost);
    }
  }
  return [...out.values()];
}

/**
 * Spreads `cost` evenly over the UTC days [from_day, to_day] of one campaign, replacing what
 * was entered for those days before.
 */
export async function setCampaignCost(
  db: Kysely<Database>,
  env_id: string,
  campaign_id: string,
  from_day: number,
  to_day: number,
  cost: number,
  currency: string | null,
): Promise<void> {
  const days = to_day - from_day + 1;
  const rows = Array.from({ length: days }, (_, i) => ({
    env_id,
    campaign_id,
    day: from_day + i,
    cost: cost / days,
    currency,
  }));
  await db
    .insertInto('campaign_costs')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['env_id', 'campaign_id', 'day']).doUpdateSet((eb) => ({
        cost: eb.ref('excluded.cost'),
        currency: eb.ref('excluded.currency'),
      })),
    )
    .execute();
}

/** Total spend entered per campaign of an environment. */
export async function campaignCosts(
  db: Kysely<Database>,
  env_id: string,
): Promise<Array<{ campaign_id: string; cost: number; days: number; currency: string | null }>> {
  const rows = await db
    .selectFrom('campaign_costs')
    .select((eb) => [
      'campaign_id',
      eb.fn.sum<number>('cost').as('cost'),
      eb.fn.countAll<number>().as('days'),
      eb.fn.max('currency').as('currency'),
    ])
    .where('env_id', '=', env_id)
    .groupBy('campaign_id')
    .orderBy('campaign_id')
    .execute();
  return rows.map((r) => ({
    campaign_id: r.campaign_id,
    cost: Math.round(Number(r.cost) * 100) / 100,
    days: Number(r.days),
    currency: r.currency ?? null,
  }));
}

/** Adds a batch of touches to their day counts (in the caller's transaction). */
export async function addTouchDays(db: Kysely<Database>, touches: readonly Touch[]): Promise<void> {
  const rows = touchDays(touches);
  for (let i = 0; i < rows.length; i += TOUCH_DAY_CHUNK) {
    await db
      .insertInto('touch_days')
      .values(rows.slice(i, i + TOUCH_DAY_CHUNK))
      .onConflict((oc) =>
        oc
          .columns(['env_id', 'day', 'kind', 'dest_id', 'campaign_id', 'creative_id'])
          .doUpdateSet((eb) => ({ n: eb('touch_days.n', '+', eb.ref('excluded.n')) })),
      )
      .execute();
  }
}
