import { type Kysely, sql } from 'kysely';
import { DAY_S } from '../../domain/report.js';
import type { Dialect } from '../migrations.js';
import type { JourneysPort, TouchCursor } from '../ports/journeys.js';
import type { Database } from '../schema.js';
import { touchFromRow } from './row-mappers.js';

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
    let total = 0;
    for (const r of rows) {
      const start = Math.max(from_s, Number(r.day) * DAY_S);
      const end = Math.min(to_s, (Number(r.day) + 1) * DAY_S);
      total += (Number(r.n) * Math.max(0, end - start)) / DAY_S;
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
    let q = this.db
      .selectFrom('touches')
      .selectAll()
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
      touches: rows.map(touchFromRow),
      next: last && rows.length === limit ? { time: Number(last.time), id: Number(last.id) } : null,
    };
  }
}
