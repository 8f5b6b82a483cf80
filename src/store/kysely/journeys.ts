import { type Kysely, sql } from 'kysely';
import type { TouchKind } from '../../domain/event.js';
import type { JourneyTouch } from '../../domain/journeys.js';
import { DAY_S } from '../../domain/report.js';
import type { TrafficSource } from '../../domain/traffic-source.js';
import type { Dialect } from '../migrations.js';
import type { JourneysPort, TouchCursor } from '../ports/journeys.js';
import type { Database } from '../schema.js';
import { inKeysetOrder } from './keyset.js';

/** A page's row, as the database writes it: JOURNEY_COLUMNS in order. */
export type JourneyRow = [
  id: number,
  kind: TouchKind,
  touch_id: string,
  dest_id: string | null,
  campaign_id: string | null,
  time: number,
  anonymous_id: string | null,
  user_id: string | null,
  ip: string | null,
  user_agent: string | null,
  traffic_source: string | null,
];
const JOURNEY_COLUMNS = [
  'id',
  'kind',
  'touch_id',
  'dest_id',
  'campaign_id',
  'time',
  'anonymous_id',
  'user_id',
  'ip',
  'user_agent',
  'traffic_source',
] as const;

/** Whether row `a` comes before `b` in a page's (time, id) order. */
const before = (a: JourneyRow, b: JourneyRow) =>
  Number(a[5]) - Number(b[5]) || Number(a[0]) - Number(b[0]);

/**
 * The page's rows in (time, id) order, the order journeys are built in and the next page's
 * cursor is taken from: as they came (one pass to check), else sorted. No SQL standard says
 * an aggregate keeps its subquery's order, so a database that did not would cost a sort, not
 * wrong journeys.
 */
export function inPageOrder(rows: JourneyRow[]): JourneyRow[] {
  return inKeysetOrder(rows, before);
}

/**
 * One page of touches for non-converting journeys: the rows after `after` in (time, id) order,
 * as one JSON text of row arrays (`page`).
 */
export function journeyPageQuery(
  db: Kysely<Database>,
  dialect: Dialect,
  env_id: string,
  from_s: number,
  to_s: number,
  after: TouchCursor | null,
  limit: number,
) {
  // Both read the environment's touches of the range in (time, id) order: PostgreSQL from
  // touches_by_env_time (0042) in each day partition the range keeps, SQLite from
  // touches_human_by_env_time (0043), whose order (env_id, time, rowid) is the page's. That
  // index is partial: only `traffic is null` below lets SQLite use it. Without them, a page read
  // and sorted every touch after its cursor (PJ01), or (SQLite, with `+env_id` on the time
  // index) every other environment's touch of the range too.
  let q = db
    .selectFrom('touches')
    .select(JOURNEY_COLUMNS)
    .where('env_id', '=', env_id)
    .where('time', '>=', after ? Math.max(from_s, after.time) : from_s)
    .where('time', '<', to_s)
    .where('traffic', 'is', null)
    .orderBy('time')
    .orderBy('id')
    .limit(limit);
  // A range condition on time alone, so the index is searched from the cursor on; the rows
  // of the cursor's own second already read are filtered out.
  if (after)
    q = q.where((eb) => eb.not(eb.and([eb('time', '=', after.time), eb('id', '<=', after.id)])));
  // The page comes as one JSON text of row arrays, built by the database: SQLite's driver
  // makes a JavaScript object of each row (a property at a time) and the read thread clones
  // each to the event loop; one string crosses whole. Measured on 300,000 touches in pages
  // of 2,500: 2.0-2.4 s of the read thread's time and 0.6-0.7 s of the event loop's as
  // rows, 0.6-0.7 s and 0.2-0.3 s as a JSON text (bench/RESULTS.md, fifteenth round).
  // Only what a journey needs, and the address and user agent (most of a row's bytes) only
  // for a touch without ids.
  const t = sql.table('t');
  const cells = sql.join(
    JOURNEY_COLUMNS.map((c) =>
      c === 'ip' || c === 'user_agent'
        ? sql`case when ${t}.anonymous_id is null and ${t}.user_id is null then ${sql.ref(`t.${c}`)} end`
        : sql.ref(`t.${c}`),
    ),
    sql`, `,
  );
  // The aggregate takes the rows in the order the ordered subquery gives them, as both
  // databases do in practice (no standard says so: the order is checked on arrival).
  // Sorting them again inside it cost SQLite's read thread a fifth of its time on a page
  // (bench/RESULTS.md, sixteenth round).
  const page =
    dialect === 'sqlite'
      ? sql<string>`json_group_array(json_array(${cells}))`
      : sql<string | null>`json_agg(json_build_array(${cells}))::text`;
  return db.selectFrom(q.as('t')).select(page.as('page'));
}

/** Touches for non-converting journeys, over Kysely: keyset pages on (time, id). */
export class KyselyJourneys implements JourneysPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async estimateJourneyTouches(env_id: string, from_s: number, to_s: number) {
    const first = Math.floor(from_s / DAY_S);
    const last = Math.floor((to_s - 1) / DAY_S);
    const rows = await this.db
      .selectFrom('touch_days')
      .select((eb) => ['day', eb.fn.sum<number>('n').as('n')])
      .where('env_id', '=', env_id)
      .where('day', '>=', first)
      .where('day', '<=', last)
      .groupBy('day')
      .execute();
    // The day counts include bot and prefetch touches, which the pages never read: they are
    // counted per day on their own partial index (0032_lift_reads) and taken off, so the
    // sample share compares human touches with human touches.
    const day = sql<number>`${sql.ref('time')} / ${sql.lit(DAY_S)}`;
    const bots = await this.db
      .selectFrom('touches')
      .select((eb) => [day.as('day'), eb.fn.countAll<number>().as('n')])
      .where('env_id', '=', env_id)
      .where('time', '>=', first * DAY_S)
      .where('time', '<', (last + 1) * DAY_S)
      .where('traffic', 'is not', null)
      .groupBy(day)
      .execute();
    const notHuman = new Map(bots.map((r) => [Number(r.day), Number(r.n)]));
    let total = 0;
    for (const r of rows) {
      const d = Number(r.day);
      const start = Math.max(from_s, d * DAY_S);
      const end = Math.min(to_s, (d + 1) * DAY_S);
      const human = Math.max(0, Number(r.n) - (notHuman.get(d) ?? 0));
      total += (human * Math.max(0, end - start)) / DAY_S;
    }
    return Math.round(total);
  }

  async journeyTouches(
    env_id: string,
    from_s: number,
    to_s: number,
    after: TouchCursor | null,
    limit: number,
  ) {
    const row = await journeyPageQuery(
      this.db,
      this.dialect,
      env_id,
      from_s,
      to_s,
      after,
      limit,
    ).executeTakeFirst();
    const rows = inPageOrder(JSON.parse(row?.page ?? '[]') as JourneyRow[]);
    const last = rows.at(-1);
    return {
      touches: rows.map(
        ([
          ,
          kind,
          touch_id,
          dest_id,
          campaign_id,
          time,
          anonymous_id,
          user_id,
          ip,
          user_agent,
          source,
        ]): JourneyTouch => ({
          kind,
          touch_id,
          dest_id,
          campaign_id,
          time: Number(time),
          anonymous_id,
          user_id,
          ip,
          user_agent,
          // Every touch the same shape (a spread of an optional key made two, and a copy).
          traffic_source: source ? (JSON.parse(source) as TrafficSource) : undefined,
        }),
      ),
      next: last && rows.length === limit ? { time: Number(last[5]), id: Number(last[0]) } : null,
    };
  }
}
