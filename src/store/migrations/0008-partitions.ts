import { type Kysely, type Migration, sql } from 'kysely';
import {
  daysBetween,
  ensureDays,
  PARTITIONED,
  type PartitionedTable,
  upcomingDays,
} from '../partitions.js';
import { type Dialect, defineMigration } from './define.js';

const TOUCH_COLUMNS =
  'id, env_id, kind, touch_id, dest_id, campaign_id, creative_id, placement_id, time, anonymous_id, user_id, ip, user_agent';
const EVENT_COLUMNS =
  'pk, env_id, event_name, event_id, event_time, received_at_ms, source, anonymous_id, user_id, value, currency, data, duplicate_count';

async function keyRange(db: Kysely<unknown>, table: string, column: string) {
  const r = await sql<{ lo: string | null; hi: string | null }>`
    SELECT min(${sql.ref(column)}) AS lo, max(${sql.ref(column)}) AS hi FROM ${sql.table(table)}`.execute(
    db,
  );
  const row = r.rows[0];
  return row?.lo == null || row.hi == null ? null : { lo: Number(row.lo), hi: Number(row.hi) };
}

/** Day partitions for the rows already stored and for the days ahead. */
async function partitionsFor(db: Kysely<unknown>, t: PartitionedTable, old: string) {
  const range = await keyRange(db, old, t.column);
  const days = new Set(upcomingDays(Date.now()));
  if (range) for (const d of daysBetween(range.lo / t.perMs, range.hi / t.perMs)) days.add(d);
  await ensureDays(
    db,
    t,
    [...days].sort((a, b) => a - b),
  );
}

/**
 * PostgreSQL: touches and events become tables partitioned by day (retention drops whole
 * partitions), and every primary key gains env_id so the schema can be distributed by it
 * (Citus). Rows already stored are moved over. SQLite has no partitions: nothing changes.
 *
 * Primary keys lead with the column lookups use (event key) or with a column that only
 * grows (touch id), so each insert appends to its index instead of landing at random.
 */
export function partitionsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      const [touches, events] = PARTITIONED;

      await sql`ALTER TABLE touches RENAME TO touches_unpartitioned`.execute(db);
      await sql`ALTER TABLE touches_unpartitioned RENAME CONSTRAINT touches_pkey TO touches_unpartitioned_pkey`.execute(
        db,
      );
      for (const idx of ['anonymous_id', 'user_id', 'ip', 'touch_id', 'time'])
        await sql`DROP INDEX IF EXISTS ${sql.id(`touches_by_${idx}`)}`.execute(db);
      await sql`CREATE TABLE touches (
          id bigint NOT NULL DEFAULT nextval('touches_id_seq'),
          env_id text NOT NULL, kind text NOT NULL, touch_id text NOT NULL, dest_id text,
          campaign_id text, creative_id text, placement_id text, time bigint NOT NULL,
          anonymous_id text, user_id text, ip text, user_agent text,
          PRIMARY KEY (id, time, env_id)
        ) PARTITION BY RANGE (time)`.execute(db);
      await sql`ALTER SEQUENCE touches_id_seq OWNED BY touches.id`.execute(db);
      await sql`CREATE TABLE touches_default PARTITION OF touches DEFAULT`.execute(db);
      await partitionsFor(db, touches, 'touches_unpartitioned');
      await sql`INSERT INTO touches (${sql.raw(TOUCH_COLUMNS)})
        SELECT ${sql.raw(TOUCH_COLUMNS)} FROM touches_unpartitioned`.execute(db);
      await sql`DROP TABLE touches_unpartitioned`.execute(db);
      for (const col of ['anonymous_id', 'ip', 'touch_id'])
        await sql`CREATE INDEX ${sql.id(`touches_by_${col}`)} ON touches (env_id, ${sql.id(col)}, time)`.execute(
          db,
        );
      await sql`CREATE INDEX touches_by_user_id ON touches (env_id, user_id, time) WHERE user_id IS NOT NULL`.execute(
        db,
      );

      await sql`ALTER TABLE events RENAME TO events_unpartitioned`.execute(db);
      await sql`ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey`.execute(
        db,
      );
      await sql`DROP INDEX IF EXISTS events_by_env_time`.execute(db);
      await sql`CREATE TABLE events (
          pk text NOT NULL, env_id text NOT NULL, event_name text NOT NULL,
          event_id text NOT NULL, event_time bigint NOT NULL, received_at_ms bigint NOT NULL,
          source text NOT NULL, anonymous_id text, user_id text, value double precision,
          currency text, data text NOT NULL, duplicate_count integer NOT NULL DEFAULT 0,
          PRIMARY KEY (pk, received_at_ms, env_id)
        ) PARTITION BY RANGE (received_at_ms)`.execute(db);
      await sql`CREATE TABLE events_default PARTITION OF events DEFAULT`.execute(db);
      await partitionsFor(db, events, 'events_unpartitioned');
      await sql`INSERT INTO events (${sql.raw(EVENT_COLUMNS)})
        SELECT ${sql.raw(EVENT_COLUMNS)} FROM events_unpartitioned`.execute(db);
      await sql`DROP TABLE events_unpartitioned`.execute(db);
      await sql`CREATE INDEX events_by_env_time ON events (env_id, received_at_ms)`.execute(db);

      for (const table of ['outbox', 'delivery_attempts']) {
        await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.id(`${table}_pkey`)}`.execute(
          db,
        );
        await sql`ALTER TABLE ${sql.table(table)} ADD PRIMARY KEY (id, env_id)`.execute(db);
      }
    },
  };
}

export default defineMigration('0008_partitions', partitionsMigration);
