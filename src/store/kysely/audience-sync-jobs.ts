import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../schema.js';
import { AUDIENCE_SYNC_KIND, type AudienceSyncJob, type KeyedSyncJob } from '../store.js';

/** PostgreSQL advisory lock key held by each delivery claim ("ptcl" in ASCII). */
const CLAIM_LOCK_KEY = 0x7074636c;

/**
 * Holds the delivery claim lock until the transaction ends (PostgreSQL; SQLite has one writer
 * at a time anyway): no worker claims outbox rows meanwhile, so what the transaction reads of
 * the outbox's claims stays true until it commits.
 */
export async function holdClaims(
  trx: Transaction<Database>,
  dialect: 'sqlite' | 'postgres',
): Promise<void> {
  if (dialect === 'postgres')
    await sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCK_KEY})`.execute(trx);
}

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

/**
 * Empties the audience batches that ended undelivered (failed or dead) before `before_ms` of
 * the hashed ids they kept for a retry by hand: no longer than events are kept, whatever
 * became of the batch. Answers how many were emptied.
 */
export async function emptyEndedSyncJobs(db: Kysely<Database>, before_ms: number): Promise<number> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'payload'])
    .where('kind', '=', AUDIENCE_SYNC_KIND)
    .where('status', 'in', ['failed', 'dead'])
    .where('updated_at_ms', '<', before_ms)
    .where('payload', 'is not', null)
    .execute();
  let emptied = 0;
  for (const r of rows) {
    const job = JSON.parse(r.payload as string) as AudienceSyncJob;
    if (job.persons.length === 0) continue;
    await db
      .updateTable('outbox')
      .set({ payload: JSON.stringify({ ...job, persons: [], rows: job.persons.length }) })
      .where('id', '=', Number(r.id))
      .execute();
    emptied++;
  }
  return emptied;
}
