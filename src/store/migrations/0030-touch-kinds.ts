import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Issue 23 review: a key's touch lookup reads its ad touches (impressions and clicks) and its
 * visits apart, each newest first with its own bound, so visits — an office address's
 * visitors, a cookie's many landings — never push an impression out of attribution
 * (DESIGN §6). Each read is one range of a partial index whose condition is the lookup's
 * literal `"kind" <> 'visit'` or `"kind" = 'visit'` (both planners use a partial index only
 * when the query states its condition).
 *
 * The whole (env_id, key, time) indexes go: the two partial indexes of a key hold each of its
 * rows once, so a touch costs the same index writes as before (an index more on the pixel's
 * write measured +15 % of SQLite's insert CPU). Every read by key states its kind class: the
 * ones that want both (a person's export and erasure, the audience id listing) read each.
 * On PostgreSQL an index made on the partitioned `touches` reaches every day partition.
 */
export const touchKindsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const col of ['anonymous_id', 'user_id', 'ip'] as const) {
      for (const [name, op] of [
        ['ads', '<>'],
        ['visits', '='],
      ] as const) {
        let index = db.schema
          .createIndex(`touches_${name}_by_${col}`)
          .ifNotExists()
          .on('touches')
          .columns(['env_id', col, 'time'])
          .where(sql.ref('kind'), op, 'visit');
        // As touches_by_user_id (0002): most touches have no user id.
        if (col === 'user_id') index = index.where(sql.ref('user_id'), 'is not', null);
        await index.execute();
      }
    }
    for (const col of ['anonymous_id', 'user_id', 'ip'] as const)
      await db.schema.dropIndex(`touches_by_${col}`).ifExists().execute();
  },
};

export default defineMigration('0030_touch_kinds', touchKindsMigration);
