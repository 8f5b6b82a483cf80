import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { FailedFor } from '../store.js';

// The outbox statements of a late copy of an event (issue 20 §1), run inside its ingest
// transaction: queue some of a conversion's rows again, cancel the ones still waiting (its
// rows are read with a fixed statement, ingest-sql.ts).

export async function requeueDeliveries(
  db: Kysely<Database>,
  ids: readonly number[],
  due_ms: number,
  now_ms: number,
  raw_ip?: string,
  clear_user?: string,
): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('outbox')
    .set({
      status: 'pending',
      attempts: 0,
      next_attempt_at_ms: due_ms,
      first_attempt_at_ms: null,
      lease_until_ms: null,
      lease_owner: null,
      delivered_at_ms: null,
      failed_for: null,
      updated_at_ms: now_ms,
      ...(raw_ip ? { raw_ip } : {}),
      ...(clear_user ? { clear_user } : {}),
    })
    .where('id', 'in', [...ids])
    .where('status', 'in', ['delivered', 'failed'])
    .returning('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

export async function cancelDeliveries(
  db: Kysely<Database>,
  ids: readonly number[],
  failed_for: FailedFor,
  reason: string,
  now_ms: number,
): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('outbox')
    .set({
      status: 'failed',
      failed_for,
      last_status: null,
      last_error: reason,
      lease_until_ms: null,
      lease_owner: null,
      // The raw IP lives only as long as the delivery that needs it.
      raw_ip: null,
      clear_user: null,
      updated_at_ms: now_ms,
    })
    .where('id', 'in', [...ids])
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until_ms', 'is', null), eb('lease_until_ms', '<', now_ms)]))
    .returning(['id', 'env_id'])
    .execute();
  if (rows.length > 0) {
    await db
      .insertInto('delivery_attempts')
      .values(
        rows.map((r) => ({
          outbox_id: Number(r.id),
          env_id: r.env_id,
          at_ms: now_ms,
          duration_ms: 0,
          status_code: null,
          error: reason,
          verdict: 'cancelled',
          response_excerpt: null,
        })),
      )
      .execute();
  }
  return rows.map((r) => Number(r.id));
}

/** The clear values a later copy brought, on a row that has not left yet. */
export async function setClearUser(
  db: Kysely<Database>,
  id: number,
  clear_user: string,
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ clear_user })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}
