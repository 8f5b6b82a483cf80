import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0025_impression_views (issue 24): what the viewability tag (`/v.js`) measured of each
 * impression, one row per `(env_id, imp_id)`. A row of its own rather than columns on the
 * touch: the tag's signals may reach the server before the impression's touch is committed
 * (another process, the group commit's interval), and an upsert keyed by the impression id
 * merges them in either order. Touches are read with their row joined by `touch_id`. Kept as
 * long as touches are (the purge deletes by `first_ms`).
 */
export function impressionViewsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('impression_views')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('imp_id', 'text', (c) => c.notNull())
        .addColumn('dest_id', 'text')
        .addColumn('measurable', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('viewable', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('time_to_view_ms', sql.raw(big))
        .addColumn('max_share', sql.raw(real))
        .addColumn('video', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('first_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('updated_ms', sql.raw(big), (c) => c.notNull())
        .addPrimaryKeyConstraint('impression_views_pk', ['env_id', 'imp_id'])
        .execute();
      // The purge deletes by age, with the touches.
      await db.schema
        .createIndex('impression_views_by_time')
        .on('impression_views')
        .column('first_ms')
        .execute();
    },
  };
}

export default defineMigration('0025_impression_views', impressionViewsMigration);
