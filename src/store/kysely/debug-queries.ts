import type { Kysely } from 'kysely';
import { conversionIdOf, receivedMsOfKey } from '../../domain/event-key.js';
import type { Database } from '../schema.js';
import type { EventFilter, EventTrail, HealthCounts, StoredEvent } from '../store.js';
import { attemptFromRow, conversionFromRow, eventFromRow, outboxFromRow } from './row-mappers.js';

/** Rows read to filter by test code, which lives inside the event JSON. */
const TEST_CODE_SCAN_ROWS = 2000;

/** The newest events matching a filter. */
export async function listEvents(db: Kysely<Database>, f: EventFilter): Promise<StoredEvent[]> {
  let q = db
    .selectFrom('events')
    .selectAll()
    .orderBy('received_at_ms', 'desc')
    .limit(f.test_code ? TEST_CODE_SCAN_ROWS : f.limit);
  if (f.env_id) q = q.where('env_id', '=', f.env_id);
  if (f.source) q = q.where('source', '=', f.source);
  if (f.event_name) q = q.where('event_name', '=', f.event_name);
  const events = (await q.execute()).map(eventFromRow);
  return f.test_code
    ? events.filter((e) => e.event.test_code === f.test_code).slice(0, f.limit)
    : events;
}

/** One event with its conversions, their deliveries and every attempt of those. */
export async function eventTrail(db: Kysely<Database>, pk: string): Promise<EventTrail | null> {
  // The key carries its receive time: PostgreSQL then reads one day partition.
  const ms = receivedMsOfKey(pk);
  let q = db.selectFrom('events').selectAll().where('pk', '=', pk);
  if (ms !== null) q = q.where('received_at_ms', '=', ms);
  const row = await q.executeTakeFirst();
  if (!row) return null;
  const conversions = (
    await db
      .selectFrom('conversions')
      .selectAll()
      .where('env_id', '=', row.env_id)
      .where('conversion_id', '=', conversionIdOf(pk))
      .execute()
  ).map(conversionFromRow);
  const ids = [...new Set(conversions.map((c) => c.conversion_id))];
  const outbox =
    ids.length === 0
      ? []
      : await db
          .selectFrom('outbox')
          .selectAll()
          .where('env_id', '=', row.env_id)
          .where('conversion_id', 'in', ids)
          .orderBy('id')
          .execute();
  const attempts =
    outbox.length === 0
      ? []
      : await db
          .selectFrom('delivery_attempts')
          .selectAll()
          .where(
            'outbox_id',
            'in',
            outbox.map((o) => o.id),
          )
          .orderBy('id')
          .execute();
  return {
    event: eventFromRow(row),
    conversions,
    deliveries: outbox.map((o) => ({
      outbox: outboxFromRow(o),
      attempts: attempts.filter((a) => Number(a.outbox_id) === Number(o.id)).map(attemptFromRow),
    })),
  };
}

/** Events per source read to score match quality. */
const QUALITY_SAMPLE_ROWS = 300;

/**
 * The health page's human touches (`human`) or the rest since `since_s`: ad touches and visits
 * (issue 23's landings of a channel) apart, a visit being no ad touch. The two are read apart,
 * each along its own (env_id, time) index (touches_human_by_env_time, 0043;
 * touches_not_human_by_time, 0032): in one query SQLite read every touch of the environment
 * to keep those of the window (demo store, 1,000,000 touches: 135-173 ms a call).
 */
export function touchKindCounts(
  db: Kysely<Database>,
  env_id: string,
  since_s: number,
  human: boolean,
) {
  return db
    .selectFrom('touches')
    .select((eb) => [
      eb.case().when('kind', '=', 'visit').then(1).else(0).end().as('visit'),
      eb.fn.max('time').as('last_s'),
      eb.fn.countAll<number>().as('n'),
    ])
    .where('env_id', '=', env_id)
    .where('traffic', human ? 'is' : 'is not', null)
    .where('time', '>=', since_s)
    .groupBy('visit');
}

/** Raw numbers of the health page for one environment since `since_ms`. */
export async function healthCounts(
  db: Kysely<Database>,
  env_id: string,
  since_ms: number,
): Promise<HealthCounts> {
  const sources = await db
    .selectFrom('events')
    .select((eb) => [
      'source',
      eb.fn.max('received_at_ms').as('last_ms'),
      eb.fn.countAll<number>().as('events'),
      eb.fn.sum<number>('duplicate_count').as('duplicates'),
    ])
    .where('env_id', '=', env_id)
    .where('received_at_ms', '>=', since_ms)
    .groupBy('source')
    .execute();
  const samples: Record<string, StoredEvent[]> = {};
  for (const s of sources) {
    samples[s.source] = (
      await db
        .selectFrom('events')
        .selectAll()
        .where('env_id', '=', env_id)
        .where('source', '=', s.source)
        .where('received_at_ms', '>=', since_ms)
        .orderBy('received_at_ms', 'desc')
        .limit(QUALITY_SAMPLE_ROWS)
        .execute()
    ).map(eventFromRow);
  }
  const since_s = Math.floor(since_ms / 1000);
  const touchKinds = [
    ...(await touchKindCounts(db, env_id, since_s, true).execute()),
    ...(await touchKindCounts(db, env_id, since_s, false).execute()),
  ];
  const seen = (visit: boolean) => {
    let last_s: number | null = null;
    let count = 0;
    for (const r of touchKinds) {
      if ((Number(r.visit) === 1) !== visit) continue;
      count += Number(r.n ?? 0);
      if (r.last_s != null)
        last_s = last_s === null ? Number(r.last_s) : Math.max(last_s, Number(r.last_s));
    }
    return { last_ms: last_s === null ? null : last_s * 1000, count };
  };
  const conversions = await db
    .selectFrom('conversions')
    .select((eb) => ['dest_id', 'attributed', eb.fn.countAll<number>().as('n')])
    .where('env_id', '=', env_id)
    .where('is_test', '=', 0)
    .where('created_at_ms', '>=', since_ms)
    .groupBy(['dest_id', 'attributed'])
    .execute();
  // Few rows carry a flag: the partial index (0027_install_fraud) reads only those.
  const flagged = await db
    .selectFrom('conversions')
    .select((eb) => ['dest_id', 'fraud', eb.fn.countAll<number>().as('n')])
    .where('env_id', '=', env_id)
    .where('fraud', 'is not', null)
    .where('created_at_ms', '>=', since_ms)
    .where('is_test', '=', 0)
    .groupBy(['dest_id', 'fraud'])
    .execute();
  const attempts = await db
    .selectFrom('outbox')
    .select((eb) => ['dest_id', 'status', eb.fn.countAll<number>().as('n')])
    .where('env_id', '=', env_id)
    .where('updated_at_ms', '>=', since_ms)
    .where('status', '!=', 'pending')
    .groupBy(['dest_id', 'status'])
    .execute();
  const pending = await db
    .selectFrom('outbox')
    .select((eb) => [
      'dest_id',
      eb.fn.countAll<number>().as('n'),
      eb.fn.min('created_at_ms').as('oldest_ms'),
    ])
    .where('env_id', '=', env_id)
    .where('status', '=', 'pending')
    .groupBy('dest_id')
    .execute();
  return {
    sources: sources.map((s) => ({
      source: s.source,
      last_ms: Number(s.last_ms),
      events: Number(s.events),
      duplicates: Number(s.duplicates ?? 0),
      sample: (samples[s.source] ?? []).map((e) => e.event),
    })),
    touches: seen(false),
    visits: seen(true),
    conversions: conversions.map((c) => ({
      dest_id: c.dest_id,
      attributed: Number(c.attributed) === 1,
      n: Number(c.n),
    })),
    fraud: flagged.map((f) => ({
      dest_id: f.dest_id,
      checks: JSON.parse(f.fraud ?? '[]') as string[],
      n: Number(f.n),
    })),
    outbox: [
      ...attempts.map((a) => ({
        dest_id: a.dest_id,
        status: a.status,
        n: Number(a.n),
        oldest_ms: null,
      })),
      ...pending.map((p) => ({
        dest_id: p.dest_id,
        status: 'pending',
        n: Number(p.n),
        oldest_ms: p.oldest_ms == null ? null : Number(p.oldest_ms),
      })),
    ],
  };
}
