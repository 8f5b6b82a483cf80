import { type Kysely, type Migration, sql } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Pixel hits rarely carry a user id: a partial index skips the NULLs, so most touch inserts
 * update one index less.
 */
const sparseUserIndex: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('touches_by_user_id').execute();
    await db.schema
      .createIndex('touches_by_user_id')
      .on('touches')
      .columns(['env_id', 'user_id', 'time'])
      .where(sql.ref('user_id'), 'is not', null)
      .execute();
  },
};

export default defineMigration('0002_sparse_user_index', sparseUserIndex);
