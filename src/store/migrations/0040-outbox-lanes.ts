import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * Issue 22, tenth round: a delivery claim read every pending outbox row in each round. The
 * only index for it was `outbox_due` (status, next_attempt_at_ms), so the claim sorted all
 * due rows by id before its LIMIT, and the head-of-line check grouped every pending row by
 * destination. A backlog (a paused destination's expired token, a platform outage, a lane
 * slower than its conversions) made every round cost in proportion to it: 73 ms a round at
 * 100,000 rows, on the event loop that answers ingest.
 *
 * The claim now walks lanes (kind, environment, destination) through this index, in id order
 * within each, and reads a lane only up to its first row that is not free (outbox-claim.ts).
 * Only pending rows are in it: delivered and dead rows, the bulk of the table, are never read
 * by a claim. The claims spell `status = 'pending'` as a literal, as SQLite and PostgreSQL
 * need in order to know a query is covered by a partial index.
 *
 * Building it reads the outbox once. On PostgreSQL that holds the outbox's writes for as long
 * (other processes' ingest waits): on a large outbox, build it beforehand without the lock,
 * `CREATE INDEX CONCURRENTLY outbox_lanes ON outbox (kind, env_id, dest_id, id) WHERE status =
 * 'pending'` (docs/deploy.md), and this step finds it. A concurrent build that failed leaves
 * an invalid index of that name, which the planner ignores: this step drops it and builds
 * it again.
 */
export function outboxLanesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        const invalid = await sql<{ n: number }>`select count(*)::int as n from pg_index i
          join pg_class c on c.oid = i.indexrelid
          where c.relname = 'outbox_lanes' and not i.indisvalid`.execute(db);
        if (invalid.rows[0].n > 0) await sql`drop index outbox_lanes`.execute(db);
      }
      await db.schema
        .createIndex('outbox_lanes')
        .ifNotExists()
        .on('outbox')
        .columns(['kind', 'env_id', 'dest_id', 'id'])
        .where(sql.ref('status'), '=', sql.lit('pending'))
        .execute();
    },
  };
}

export default defineMigration('0040_outbox_lanes', outboxLanesMigration);
