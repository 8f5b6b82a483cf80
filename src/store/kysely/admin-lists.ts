import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../migrations/define.js';
import type { AdminListsPort } from '../ports/admin.js';
import type { Database } from '../schema.js';
import type { EventFilter, ListFilter, StoreCounts, TouchFilter } from '../store.js';
import { eventTrail, healthCounts, listEvents } from './debug-queries.js';
import { AD_TOUCHES, CLICKS, VISITS } from './ingest-columns.js';
import { attemptFromRow, conversionFromRow, outboxFromRow } from './row-mappers.js';
import { listTouches } from './touch-list.js';

/** The admin API's and dashboard's lists and counts over Kysely. */
export class KyselyAdminLists implements AdminListsPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async listConversions(f: ListFilter) {
    let q = this.db
      .selectFrom('conversions')
      .selectAll()
      .orderBy('created_at_ms', 'desc')
      .limit(f.limit);
    if (f.env_id) q = q.where('env_id', '=', f.env_id);
    if (f.dest_id) q = q.where('dest_id', '=', f.dest_id);
    if (f.status === 'attributed') q = q.where('attributed', '=', 1);
    if (f.status === 'unattributed') q = q.where('attributed', '=', 0);
    if (f.since_ms !== undefined) q = q.where('created_at_ms', '>=', f.since_ms);
    if (f.until_ms !== undefined) q = q.where('created_at_ms', '<', f.until_ms);
    return (await q.execute()).map(conversionFromRow);
  }

  async listDeliveries(f: ListFilter) {
    let q = this.db.selectFrom('outbox').selectAll().orderBy('id', 'desc').limit(f.limit);
    if (f.env_id) q = q.where('env_id', '=', f.env_id);
    if (f.dest_id) q = q.where('dest_id', '=', f.dest_id);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.since_ms !== undefined) q = q.where('created_at_ms', '>=', f.since_ms);
    if (f.until_ms !== undefined) q = q.where('created_at_ms', '<', f.until_ms);
    return (await q.execute()).map(outboxFromRow);
  }

  async getDelivery(id: number) {
    const row = await this.db
      .selectFrom('outbox')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('outbox_id', '=', id)
      .orderBy('id')
      .execute();
    return { outbox: outboxFromRow(row), attempts: attempts.map(attemptFromRow) };
  }

  async counts(env_id?: string): Promise<StoreCounts> {
    // Touches are counted on the partial indexes of their kinds (0027, 0030) alone, and the
    // bots and prefetches (few) on theirs. Grouping every touch by kind and traffic read each
    // row in the order of the first index of the environment's (by touch id: random, against
    // rows stored in time order): 1.1 s for 300,000 touches, growing with the 90 days kept.
    const count = async (kind: string) =>
      Number(
        (
          await this.db
            .selectFrom('touches')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
            .where(sql.raw<boolean>(kind))
            .executeTakeFirst()
        )?.n ?? 0,
      );
    const ads = await count(AD_TOUCHES);
    const allClicks = await count(CLICKS);
    const allVisits = await count(VISITS);
    const touches = await this.db
      .selectFrom('touches')
      .select(['kind', 'traffic', (eb) => eb.fn.countAll<number>().as('n')])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .where('traffic', 'is not', null)
      .groupBy(['kind', 'traffic'])
      .execute();
    const events = await this.db
      .selectFrom('events')
      .select((eb) => [
        'traffic',
        eb.fn.countAll<number>().as('n'),
        eb.fn.coalesce(eb.fn.sum<number>('duplicate_count'), eb.val(0)).as('dups'),
      ])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy('traffic')
      .execute();
    // A conversion has a row per destination: people's numbers count it once, and the
    // credits apart (what the platforms together claim). One statement, so that conversions,
    // attributed and credits come from one snapshot while conversions are being written.
    const conversions = await this.db
      .selectFrom('conversions')
      .select([
        sql<number>`count(distinct conversion_id)`.as('n'),
        sql<number>`count(distinct case when attributed = 1 then conversion_id end)`.as('a'),
        sql<number>`coalesce(sum(case when attributed = 1 then 1 else 0 end), 0)`.as('credits'),
      ])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .executeTakeFirst();
    const outbox = await this.db
      .selectFrom('outbox')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy('status')
      .execute();
    const sum = <R extends { n: unknown }>(rows: R[], keep: (r: R) => boolean) =>
      rows.filter(keep).reduce((acc, r) => acc + Number(r.n), 0);
    // Bots and prefetches are counted apart, never mixed into people's numbers.
    const human = (r: { traffic: string | null }) => r.traffic === null;
    const traffic = (t: string) => (r: { traffic: string | null }) => r.traffic === t;
    return {
      // Ad touches only: a visit (a landing of a channel, issue 23) is no impression or click.
      // The counts are separate statements: under concurrent writes a difference may lag a
      // moment, never below zero.
      touches: Math.max(0, ads - sum(touches, (r) => r.kind !== 'visit')),
      impressions: Math.max(0, ads - allClicks - sum(touches, (r) => r.kind === 'impression')),
      clicks: Math.max(0, allClicks - sum(touches, (r) => r.kind === 'click')),
      visits: Math.max(0, allVisits - sum(touches, (r) => r.kind === 'visit')),
      events: sum(events, human),
      duplicates: events.reduce((acc, r) => acc + Number(r.dups), 0),
      conversions: Number(conversions?.n ?? 0),
      attributed: Number(conversions?.a ?? 0),
      platform_credits: Number(conversions?.credits ?? 0),
      outbox_pending: sum(outbox, (r) => r.status === 'pending'),
      outbox_delivered: sum(outbox, (r) => r.status === 'delivered'),
      outbox_dead: sum(outbox, (r) => r.status === 'dead' || r.status === 'failed'),
      bot_hits: sum(touches, traffic('bot')) + sum(events, traffic('bot')),
      prefetch_hits: sum(touches, traffic('prefetch')) + sum(events, traffic('prefetch')),
    };
  }

  listTouches(f: TouchFilter) {
    return listTouches(this.db, this.dialect, f);
  }

  listEvents(f: EventFilter) {
    return listEvents(this.db, f);
  }

  eventTrail(pk: string) {
    return eventTrail(this.db, pk);
  }

  healthCounts(env_id: string, since_ms: number) {
    return healthCounts(this.db, env_id, since_ms);
  }
}
