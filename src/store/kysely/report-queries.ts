import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Touch } from '../../domain/event.js';
import { NO_CURRENCY } from '../../domain/money.js';
import {
  DAY_S,
  dayKey,
  emptyCounts,
  type ReportCounts,
  type ReportQuery,
} from '../../domain/report.js';
import { touchDays } from '../../domain/touch-days.js';
import type { Database } from '../schema.js';
import { clearCampaignDays } from './campaign-cost-days.js';

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
 * The conversions' key. In the deduplicated view a conversion no destination credited
 * belongs to no destination (its row is only the one that represents it).
 */
function conversionKey(q: ReportQuery): RawBuilder<unknown> | null {
  if (q.group_by === 'destination' && q.view === 'deduplicated')
    return sql`(case when attributed = 1 then dest_id end)`;
  return keyColumn(q, 'conversions');
}

/**
 * Adds up touches, conversions and spend of a report query, one entry per group. Each
 * conversion row counts in exactly one group, so the groups add up to the total: in the
 * platform view every (conversion, destination) row counts, in the deduplicated view only
 * each conversion's `dedup_row` (the winning destination's, see domain/dedup-credit.ts).
 * Unattributed conversions have no campaign or creative: they count in the `''` group. Money
 * comes per currency and day, for conversion with the rate of its day.
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
  const fromDay = Math.floor(from / DAY_S);
  const toDay = Math.ceil(to / DAY_S);
  const destWhere = q.dest_id ? sql`and dest_id = ${q.dest_id}` : sql``;
  const campaignWhere = q.campaign_id ? sql`and campaign_id = ${q.campaign_id}` : sql``;

  // Touches come from their day counts: whole UTC days, a few rows per day.
  const tk = keyColumn(q, 'touches');
  const touches = await sql<{ k: unknown; kind: string; n: unknown }>`
    select ${tk ?? sql`null`} as k, kind, sum(n) as n from touch_days
    where env_id = ${q.env_id} and day >= ${fromDay} and day < ${toDay} ${destWhere} ${campaignWhere}
    group by ${tk ? sql`${tk}, ` : sql``}kind`.execute(db);
  for (const r of touches.rows) {
    const c = entry(r.k === '' ? null : r.k);
    if (r.kind === 'impression') c.impressions += Number(r.n);
    else if (r.kind === 'click') c.clicks += Number(r.n);
  }

  const ck = conversionKey(q);
  const dedup =
    q.view === 'deduplicated'
      ? sql`and dedup_row = 1 ${q.dest_id ? sql`and attributed = 1` : sql``}`
      : sql``;
  const conversions = await sql<{
    k: unknown;
    a: unknown;
    click: unknown;
    det: unknown;
    cur: string;
    d: unknown;
    n: unknown;
    m: unknown;
    v: unknown;
  }>`
    select ${ck ?? sql`null`} as k, attributed as a,
      case when attr_type = 'click' then 1 else 0 end as click,
      case when match_type = 'deterministic' then 1 else 0 end as det,
      coalesce(currency, ${sql.lit(NO_CURRENCY)}) as cur, event_time / ${sql.lit(DAY_S)} as d,
      count(*) as n, sum(coalesce(value, 0)) as v,
      sum(case when coalesce(value, 0) <> 0 then 1 else 0 end) as m
    from conversions
    where env_id = ${q.env_id} and is_test = 0 and event_time >= ${from} and event_time < ${to}
      ${destWhere} ${campaignWhere} ${dedup}
    group by ${ck ? sql`${ck}, ` : sql``}attributed,
      case when attr_type = 'click' then 1 else 0 end,
      case when match_type = 'deterministic' then 1 else 0 end, coalesce(currency, ${sql.lit(NO_CURRENCY)}),
      event_time / ${sql.lit(DAY_S)}`.execute(db);
  for (const r of conversions.rows) {
    const c = entry(r.k);
    const n = Number(r.n);
    if (Number(r.a) !== 1) {
      c.unattributed += n;
      continue;
    }
    c.conversions += n;
    if (Number(r.click) === 1) c.click_conversions += n;
    else c.view_conversions += n;
    if (Number(r.det) === 1) c.deterministic_conversions += n;
    else c.probabilistic_conversions += n;
    // `m`: the conversions with money, which a note counts when no rate converts it.
    c.revenue.push({
      currency: r.cur,
      day: Number(r.d),
      amount: Number(r.v ?? 0),
      count: Number(r.m),
    });
  }

  // Spend is entered per campaign and day, so only those groupings (and the total) have it;
  // it is not split by destination either.
  if (!q.dest_id && (q.group_by === 'day' || q.group_by === 'campaign' || q.group_by === 'total')) {
    const costKey =
      q.group_by === 'day'
        ? sql.ref('day')
        : q.group_by === 'campaign'
          ? sql.ref('campaign_id')
          : null;
    const costs = await sql<{
      k: unknown;
      cur: string | null;
      day: unknown;
      cost: unknown;
      n: unknown;
    }>`
      select ${costKey ?? sql`null`} as k, currency as cur, day, sum(cost) as cost, count(*) as n
      from campaign_costs
      where env_id = ${q.env_id} and day >= ${fromDay} and day < ${toDay} ${campaignWhere}
      group by ${costKey ? sql`${costKey}, ` : sql``}currency, day`.execute(db);
    for (const r of costs.rows) {
      if (r.cost === null) continue;
      entry(r.k).cost.push({
        currency: r.cur ?? q.spend_currency ?? NO_CURRENCY,
        day: Number(r.day),
        amount: Number(r.cost),
        count: Number(r.n),
      });
    }
  }
  return [...out.values()];
}

/**
 * Spreads `cost` evenly over the UTC days [from_day, to_day] of one campaign: what was
 * stored for those days before, typed in or imported under any channel, is replaced.
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
  await db.transaction().execute(async (tx) => {
    await clearCampaignDays(tx, env_id, rows);
    await tx.insertInto('campaign_costs').values(rows).execute();
  });
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
