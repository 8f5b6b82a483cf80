import type { Kysely } from 'kysely';
import type { JourneysPort, TouchCursor } from '../ports/journeys.js';
import type { Database } from '../schema.js';
import { touchFromRow } from './row-mappers.js';

/** Touches for non-converting journeys, over Kysely: keyset pages on (time, id). */
export class KyselyJourneys implements JourneysPort {
  constructor(private readonly db: Kysely<Database>) {}

  private inRange(env_id: string, from_s: number, to_s: number) {
    return this.db
      .selectFrom('touches')
      .where('env_id', '=', env_id)
      .where('time', '>=', from_s)
      .where('time', '<', to_s)
      .where('traffic', 'is', null);
  }

  async countJourneyTouches(env_id: string, from_s: number, to_s: number) {
    const row = await this.inRange(env_id, from_s, to_s)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async journeyTouches(
    env_id: string,
    from_s: number,
    to_s: number,
    after: TouchCursor | null,
    limit: number,
  ) {
    let q = this.inRange(env_id, from_s, to_s)
      .selectAll()
      .orderBy('time')
      .orderBy('id')
      .limit(limit);
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb('time', '>', after.time),
          eb.and([eb('time', '=', after.time), eb('id', '>', after.id)]),
        ]),
      );
    const rows = await q.execute();
    const last = rows.at(-1);
    return {
      touches: rows.map(touchFromRow),
      next: last && rows.length === limit ? { time: Number(last.time), id: Number(last.id) } : null,
    };
  }
}
