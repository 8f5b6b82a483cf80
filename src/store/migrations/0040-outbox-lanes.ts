import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 22, ninth round: a delivery claim read every pending outbox row in each round. The
 * only index for it was `outbox_due` (status, next_attempt_at_ms), so the claim sorted all
 * due rows by id before its LIMIT, and the head-of-line check grouped every pending row by
 * destination. A backlog (a paused destination's expired token, a platform outage, a lane
 * slower than its conversions) made every round cost in proportion to it: 4.3 + 3.7 ms a
 * round at a few thousand rows, on the event loop that answers ingest.
 *
 * The claim now walks lanes (kind, environment, destination) through this index, in id order
 * within each, and reads a lane only as far as its first row that is not free. Only pending
 * rows are in it: delivered and dead rows, the bulk of the table, are never read by a claim.
 * The claims spell `status = 'pending'` as a literal, as SQLite and PostgreSQL need in order
 * to know a query is covered by a partial index.
 */
export const outboxLanesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('outbox_lanes')
      .ifNotExists()
      .on('outbox')
      .columns(['kind', 'env_id', 'dest_id', 'id'])
      .where(sql.ref('status'), '=', sql.lit('pending'))
      .execute();
  },
};

export default defineMigration('0040_outbox_lanes', outboxLanesMigration);
