import type { OutboxUpdate } from '../store.js';
import { placeholders, quoted, textsByLength } from './ingest-statements.js';

// The delivery worker's statements for every attempt, as fixed text: Kysely's builder and
// compiler cost about 70 µs a delivery over SQLite's own work (renewing the lease before the
// send, recording the attempt after it; issue 22, fifteenth round).

/** heldBy (outbox-claim.ts) as text: the row is this owner's (`?`) and still pending. */
const HELD_BY = `case when "lease_owner" = ? and "status" = 'pending' then 1 else 0 end = 1`;

/** Renews the lease (`?` until) of the rows of `n` ids the owner (`?`) holds. */
export const RENEW_LEASES = textsByLength(
  (n) => `update "outbox" set "lease_until_ms" = ? where "id" in ${placeholders(n)} and ${HELD_BY}`,
);

/** The rows of `n` ids the owner (`?`) holds. */
export const HELD_IDS = textsByLength(
  (n) => `select "id" from "outbox" where "id" in ${placeholders(n)} and ${HELD_BY}`,
);

const ATTEMPT_COLUMNS = [
  'outbox_id',
  'env_id',
  'at_ms',
  'duration_ms',
  'status_code',
  'error',
  'verdict',
  'response_excerpt',
] as const;

/** `n` rows of delivery_attempts. */
export const INSERT_ATTEMPTS = textsByLength(
  (n) =>
    `insert into "delivery_attempts" (${quoted(ATTEMPT_COLUMNS)}) values ${Array.from(
      { length: n },
      () => placeholders(ATTEMPT_COLUMNS.length),
    ).join(', ')}`,
);

/** The values of an attempt row, in ATTEMPT_COLUMNS order. */
export function attemptValues(a: Record<(typeof ATTEMPT_COLUMNS)[number], unknown>): unknown[] {
  return ATTEMPT_COLUMNS.map((c) => a[c]);
}

/**
 * An attempt's outcome on its row: one more attempt, the lease let go, the last answer, and
 * by status: the next try (pending), the payload kept (a delivered job), the raw IP and clear
 * values dropped once nothing will send them again.
 */
function finishText(pending: boolean, payload: boolean): string {
  return `update "outbox" set "status" = ?, "attempts" = "attempts" + 1,
  "first_attempt_at_ms" = coalesce("first_attempt_at_ms", ?),
  "next_attempt_at_ms" = ${pending ? '?' : '"next_attempt_at_ms"'},
  "lease_until_ms" = null, "lease_owner" = null, "last_status" = ?, "last_error" = ?,
  "updated_at_ms" = ?, "delivered_at_ms" = ?,
  "raw_ip" = ${pending ? '"raw_ip"' : 'null'}, "clear_user" = ${pending ? '"clear_user"' : 'null'},
  "failed_for" = ?, "payload" = ${payload ? '?' : '"payload"'}
  where "id" = ?`;
}
const FINISH = {
  pending: finishText(true, false),
  kept: finishText(false, false),
  payload: finishText(false, true),
};

/** The statement and values that record an attempt on its outbox row. */
export function finishStatement(
  a: {
    outbox_id: number;
    at_ms: number;
    duration_ms: number;
    status_code: number | null;
    error: string | null;
  },
  update: OutboxUpdate,
): [string, unknown[]] {
  const end = a.at_ms + a.duration_ms;
  const head = [update.status, a.at_ms];
  const tail = [
    a.status_code,
    a.error,
    end,
    update.status === 'delivered' ? end : null,
    update.status === 'failed' ? (update.failed_for ?? null) : null,
  ];
  if (update.status === 'pending')
    return [FINISH.pending, [...head, update.next_attempt_at_ms, ...tail, a.outbox_id]];
  if (update.status === 'delivered' && update.payload !== undefined)
    return [FINISH.payload, [...head, ...tail, update.payload, a.outbox_id]];
  return [FINISH.kept, [...head, ...tail, a.outbox_id]];
}
