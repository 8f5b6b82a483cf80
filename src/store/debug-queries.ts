import type { Kysely } from 'kysely';
import { attemptFromRow, conversionFromRow, eventFromRow, outboxFromRow } from './row-mappers.js';
import type { Database } from './schema.js';
import type { EventFilter, EventTrail, StoredEvent } from './store.js';

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
  const row = await db.selectFrom('events').selectAll().where('pk', '=', pk).executeTakeFirst();
  if (!row) return null;
  const conversions = (
    await db.selectFrom('conversions').selectAll().where('event_pk', '=', pk).execute()
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
