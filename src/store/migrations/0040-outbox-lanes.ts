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
 * 'pending'` (docs/deploy.md), and this step finds it. An index of that name that is invalid
 * (a concurrent build still running, or one that failed) or that is not this index stops the
 * step with what to do: dropping it here would wait behind a running build while holding the
 * outbox, or build the index under the very lock the operator meant to avoid.
 */
/** The index as PostgreSQL describes it (pg_get_indexdef), whoever built it. */
const LANES_DEF =
  /ON (\S+\.)?outbox USING btree \(kind, env_id, dest_id, id\) WHERE \(status = 'pending'::text\)$/;

export function outboxLanesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        const found = await sql<{ valid: boolean; def: string }>`select i.indisvalid as valid,
            pg_get_indexdef(i.indexrelid) as def from pg_index i
          where i.indexrelid = to_regclass('outbox_lanes')`.execute(db);
        const index = found.rows[0];
        if (index && !index.valid) {
          throw new Error(
            '0040_outbox_lanes: the index outbox_lanes is invalid (a CREATE INDEX CONCURRENTLY ' +
              'still running, or one that failed). Wait for a running build to finish; after ' +
              'a failed one, run DROP INDEX CONCURRENTLY outbox_lanes and build it again ' +
              '(docs/deploy.md), then start again.',
          );
        }
        if (index && !LANES_DEF.test(index.def)) {
          throw new Error(
            `0040_outbox_lanes: an index named outbox_lanes exists but is not this step's ` +
              `(${index.def}). Drop it (DROP INDEX CONCURRENTLY outbox_lanes), then start again.`,
          );
        }
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
