import { type Kysely, sql, type Transaction } from 'kysely';
import { AUDIENCE_SYNC_KIND, type KeyedSyncJob } from './audience-store.js';
import type { Database } from './schema.js';

/**
 * Outbox rows of one audience's jobs, whose keys are `<audience_id>:<job id>` (a prefix
 * compared as is: LIKE would need escaping that SQLite and PostgreSQL spell differently).
 */
export function jobsOf(audience_id: string) {
  const prefix = `${audience_id}:`;
  return sql<boolean>`substr(conversion_id, 1, ${prefix.length}) = ${prefix}`;
}

/** Queues sync jobs to one destination inside the caller's transaction; answers their ids. */
export async function insertSyncJobs(
  trx: Kysely<Database> | Transaction<Database>,
  env_id: string,
  dest_id: string,
  jobs: readonly KeyedSyncJob[],
  now_ms: number,
): Promise<number[]> {
  const ids: number[] = [];
  // One row at a time: each job is up to 10,000 persons, far over a multi-row INSERT's
  // bound-parameter budget would matter, and there are only a few per sync.
  for (const { key, job } of jobs) {
    const row = await trx
      .insertInto('outbox')
      .values({
        env_id,
        conversion_id: key,
        dest_id,
        kind: AUDIENCE_SYNC_KIND,
        payload: JSON.stringify(job),
        status: 'pending',
        attempts: 0,
        next_attempt_at_ms: now_ms,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(Number(row.id));
  }
  return ids;
}
