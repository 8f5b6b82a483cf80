import { type Kysely, sql } from 'kysely';
import type { TouchKind } from '../../domain/event.js';
import type { JourneyTouch } from '../../domain/journeys.js';
import { DAY_S } from '../../domain/report.js';
import type { TrafficSource } from '../../domain/traffic-source.js';
import type { Dialect } from '../migrations.js';
import type { JourneysPort, TouchCursor } from '../ports/journeys.js';
import type { Database } from '../schema.js';

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
    // SQLite would pick the (env_id, key) indexes and sort every page of the environment;
    // `+env_id` keeps its planner on the time index, whose order (time, rowid) is the page's.
    // PostgreSQL prunes the day partitions by time and plans by its statistics.
    const env = this.dialect === 'sqlite' ? sql<string>`+env_id` : sql<string>`env_id`;
    // Only what a journey needs: the rows cross from the read thread to the event loop, and
    // the address and user agent (most of a row's bytes) only name a touch without ids.
    const idless = (col: 'ip' | 'user_agent') =>
      sql<
        string | null
      >`case when anonymous_id is null and user_id is null then ${sql.ref(col)} end`;
    let q = this.db
      .selectFrom('touches')
      .select([
        'id',
        'kind',
        'touch_id',
        'dest_id',
        'campaign_id',
        'time',
        'anonymous_id',
        'user_id',
        idless('ip').as('ip'),
        idless('user_agent').as('user_agent'),
        'traffic_source',
      ])
      .where(env, '=', env_id)
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
    const rows = await q.execute();
    const last = rows.at(-1);
    return {
      touches: rows.map(
        (r): JourneyTouch => ({
          kind: r.kind as TouchKind,
          touch_id: r.touch_id,
          dest_id: r.dest_id,
          campaign_id: r.campaign_id,
          time: Number(r.time),
          anonymous_id: r.anonymous_id,
          user_id: r.user_id,
          ip: r.ip,
          user_agent: r.user_agent,
          ...(r.traffic_source
            ? { traffic_source: JSON.parse(r.traffic_source) as TrafficSource }
            : {}),
        }),
      ),
      next: last && rows.length === limit ? { time: Number(last.time), id: Number(last.id) } : null,
    };
  }
}
