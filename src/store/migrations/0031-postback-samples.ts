import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0031_postback_samples (issue 25, review finding 7): the postback paths take anything from
 * anyone, so what is not verified is kept as a bounded sample. `apple_postback_samples`
 * counts, per environment ('' for no environment) and hour, the unverified postbacks received
 * and how many of them were kept as rows; the rest are counted only.
 *
 * Indexes for reading `apple_postbacks` in bounded time: `GET /api/postbacks` pages newest
 * first by id (without `(env_id, id)` the first page sorted every row of the environment),
 * unverified ones alone (few, among many verified), and the purge deletes unverified rows
 * sooner than verified ones (by age, among unverified rows only).
 */
export function postbackSamplesMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('apple_postback_samples')
        .addColumn('env_id', 'text', (c) => c.notNull())
        .addColumn('hour_ms', sql.raw(big), (c) => c.notNull())
        .addColumn('received', 'integer', (c) => c.notNull())
        .addColumn('kept', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('apple_postback_samples_pk', ['env_id', 'hour_ms'])
        .execute();
      await db.schema
        .createIndex('apple_postbacks_by_id')
        .on('apple_postbacks')
        .columns(['env_id', 'id'])
        .execute();
      await db.schema
        .createIndex('apple_postbacks_unverified')
        .on('apple_postbacks')
        .columns(['env_id', 'id'])
        .where(sql.ref('verified'), '=', 0)
        .execute();
      await db.schema
        .createIndex('apple_postbacks_unverified_by_age')
        .on('apple_postbacks')
        .column('received_at_ms')
        .where(sql.ref('verified'), '=', 0)
        .execute();
    },
  };
}

export default defineMigration('0031_postback_samples', postbackSamplesMigration);
