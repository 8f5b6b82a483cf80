import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * SQLite reads an environment's human touches in time order through this index, as
 * PostgreSQL does every touch through its touches_by_env_time (0042): the journeys of the
 * attribution report (keyset pages on (time, id): the index's order, id being the rowid), the
 * viewability report's impressions of a range, and, with touches_not_human_by_time (0032) for
 * the rest, the debugger's newest touches. Before it, the reports read `touches_by_time`
 * (time alone) and left other environments' touches out row by row, so a small environment's
 * report read every touch of the range in the store; the debugger's list read every touch of
 * its environment (by `touches_by_touch_id`) to sort them by time.
 *
 * Partial, for human touches (`traffic is null`): only a query that says so may use it. A
 * whole (env_id, time) index drew SQLite's planner (with no statistics) away from the partial
 * indexes of other reads: the store's counts by kind and by traffic, an audience's keys, the
 * debugger's sources read every touch of their environment through it instead.
 *
 * One more b-tree for each human touch written, on the touch writer's thread, not the event
 * loop (bench/RESULTS.md, issue 22, twentieth round). Building it reads the touches once,
 * before the server listens: about a second for the demo's million touches. PostgreSQL has
 * its own since 0042.
 */
export function touchesHumanByEnvTimeMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'sqlite') return;
      await sql`create index if not exists touches_human_by_env_time on touches (env_id, "time") where traffic is null`.execute(
        db,
      );
    },
  };
}

export default defineMigration('0043_touches_human_by_env_time', touchesHumanByEnvTimeMigration);
