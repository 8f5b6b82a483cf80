import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration, sqliteAtomically } from './define.js';

/**
 * Review of issue 24, finding 9: what the viewability tag measured is kept per destination,
 * keyed by `(env_id, dest_id, imp_id)` instead of `(env_id, imp_id)`. Impression ids are
 * the ad server's: two DSPs of one environment may both send `imp_id=123` for different ads,
 * and one's verdict must not decide whether the other's impression is credited
 * (`view_requires_viewable`). `/v` has always required `dest_id` with `imp_id`, so a row
 * without one can only be older than that check; it keeps `''` and matches no touch.
 */
export function viewsPerDestinationMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        await sql`update impression_views set dest_id = '' where dest_id is null`.execute(db);
        await sql`alter table impression_views alter column dest_id set not null`.execute(db);
        await sql`alter table impression_views drop constraint impression_views_pk`.execute(db);
        await sql`alter table impression_views add constraint impression_views_pk
          primary key (env_id, dest_id, imp_id)`.execute(db);
        return;
      }
      // SQLite cannot change a primary key: the table is made again and the rows copied, in
      // one transaction so that a start killed halfway leaves the old table whole.
      await sqliteAtomically(db, () => rebuild(db));
    },
  };
}

async function rebuild(db: Kysely<unknown>): Promise<void> {
  await sql`create table impression_views_new (
        env_id text not null,
        dest_id text not null,
        imp_id text not null,
        measurable integer not null default 0,
        viewable integer not null default 0,
        time_to_view_ms integer,
        max_share real,
        video integer not null default 0,
        first_ms integer not null,
        updated_ms integer not null,
        constraint impression_views_pk primary key (env_id, dest_id, imp_id)
      )`.execute(db);
  await sql`insert into impression_views_new (env_id, dest_id, imp_id, measurable, viewable,
          time_to_view_ms, max_share, video, first_ms, updated_ms)
        select env_id, coalesce(dest_id, ''), imp_id, measurable, viewable, time_to_view_ms,
          max_share, video, first_ms, updated_ms
        from impression_views`.execute(db);
  await sql`drop table impression_views`.execute(db);
  await sql`alter table impression_views_new rename to impression_views`.execute(db);
  // The purge deletes by age, with the touches (as in 0025).
  await sql`create index impression_views_by_time on impression_views (first_ms)`.execute(db);
}

export default defineMigration('0038_views_per_destination', viewsPerDestinationMigration);
