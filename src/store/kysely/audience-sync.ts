import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Dialect } from '../migrations/define.js';
import type { AudienceSyncPort } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { AudienceSchedule, AudienceSyncJob, ExportIds, KeyedSyncJob } from '../store.js';
import { AUDIENCE_SYNC_KIND } from '../store.js';
import { holdClaims, insertSyncJobs, jobsOf } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';
import { attemptFromRow, outboxFromRow } from './row-mappers.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 200;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function scheduleFromRow(r: Selectable<Database['audience_schedules']>): AudienceSchedule {
  return {
    dest_id: r.dest_id,
    platform_audience_id: r.platform_audience_id,
    advertiser_id: r.advertiser_id,
    every_ms: num(r.every_ms),
    next_run_at_ms: num(r.next_run_at_ms),
    last_run_at_ms: numOrNull(r.last_run_at_ms),
  };
}

/** Which of these persons are members of the audience now. */
async function membersAmong(
  trx: Transaction<Database>,
  env_id: string,
  audience_id: string,
  persons: readonly string[],
): Promise<Set<string>> {
  const members = new Set<string>();
  for (const part of chunks(persons, INSERT_CHUNK_ROWS)) {
    const rows = await trx
      .selectFrom('audience_members')
      .select('person')
      .distinct()
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('member', '=', 1)
      .where('person', 'in', part)
      .execute();
    for (const r of rows) members.add(r.person);
  }
  return members;
}

/** Records what the platform is to hold of an audience, inside the caller's transaction. */
async function markSyncedIn(
  trx: Kysely<Database>,
  env_id: string,
  audience_id: string,
  dest_id: string,
  added: ReadonlyArray<{ person: string; ids: ExportIds }>,
  removed: readonly string[],
  at_ms: number,
) {
  for (let i = 0; i < added.length; i += INSERT_CHUNK_ROWS) {
    await trx
      .insertInto('audience_synced')
      .values(
        added.slice(i, i + INSERT_CHUNK_ROWS).map((a) => ({
          env_id,
          audience_id,
          dest_id,
          person: a.person,
          ids: JSON.stringify(a.ids),
          synced_at_ms: at_ms,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['env_id', 'audience_id', 'dest_id', 'person']).doUpdateSet((eb) => ({
          ids: eb.ref('excluded.ids'),
          synced_at_ms: at_ms,
        })),
      )
      .execute();
  }
  for (let i = 0; i < removed.length; i += INSERT_CHUNK_ROWS) {
    await trx
      .deleteFrom('audience_synced')
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('dest_id', '=', dest_id)
      .where('person', 'in', removed.slice(i, i + INSERT_CHUNK_ROWS))
      .execute();
  }
}

/** What audience syncs sent and queue, and their schedules, over Kysely. */
export class KyselyAudienceSync implements AudienceSyncPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async syncedPersons(env_id: string, audience_id: string, dest_id: string) {
    const rows = await this.db
      .selectFrom('audience_synced')
      .select(['person', 'ids'])
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('dest_id', '=', dest_id)
      .orderBy('person')
      .execute();
    return rows.map((r) => ({ person: r.person, ids: JSON.parse(r.ids) as ExportIds }));
  }

  async enqueueAudienceSync(
    env_id: string,
    dest_id: string,
    jobs: readonly KeyedSyncJob[],
    added: ReadonlyArray<{ person: string; ids: ExportIds }>,
    removed: readonly string[],
    now_ms: number,
  ): Promise<number[]> {
    if (jobs.length === 0) return [];
    const audience_id = jobs[0].job.audience_id;
    return this.db.transaction().execute(async (trx) => {
      // Serialised with erasures (which hold the claim lock too): a person erased since the
      // members were read is not queued to a platform again.
      await holdClaims(trx, this.dialect);
      const members = await membersAmong(
        trx,
        env_id,
        audience_id,
        added.map((a) => a.person),
      );
      const kept = jobs
        .map((j) =>
          j.job.action === 'add'
            ? {
                ...j,
                job: { ...j.job, persons: j.job.persons.filter((p) => members.has(p.person)) },
              }
            : j,
        )
        .filter((j) => j.job.persons.length > 0);
      const stillAdded = added.filter((a) => members.has(a.person));
      await markSyncedIn(trx, env_id, audience_id, dest_id, stillAdded, removed, now_ms);
      return insertSyncJobs(trx, env_id, dest_id, kept, now_ms);
    });
  }

  async listAudienceJobs(env_id: string, audience_id: string, limit: number) {
    const rows = await this.db
      .selectFrom('outbox')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('kind', '=', AUDIENCE_SYNC_KIND)
      .where(jobsOf(audience_id))
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    if (rows.length === 0) return [];
    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where(
        'outbox_id',
        'in',
        rows.map((r) => Number(r.id)),
      )
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      outbox: outboxFromRow(r),
      job: r.payload ? (JSON.parse(r.payload) as AudienceSyncJob) : null,
      attempts: attempts.filter((a) => Number(a.outbox_id) === Number(r.id)).map(attemptFromRow),
    }));
  }

  async putSchedules(env_id: string, audience_id: string, schedules: readonly AudienceSchedule[]) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('audience_schedules')
        .where('env_id', '=', env_id)
        .where('audience_id', '=', audience_id)
        .execute();
      if (schedules.length === 0) return;
      await trx
        .insertInto('audience_schedules')
        .values(schedules.map((x) => ({ env_id, audience_id, ...x })))
        .execute();
    });
  }

  async listSchedules(env_id: string, audience_id: string) {
    const rows = await this.db
      .selectFrom('audience_schedules')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .orderBy('dest_id')
      .execute();
    return rows.map(scheduleFromRow);
  }

  async claimDueSchedules(now_ms: number, limit: number) {
    const due = await this.db
      .selectFrom('audience_schedules')
      .selectAll()
      .where('next_run_at_ms', '<=', now_ms)
      .orderBy('next_run_at_ms')
      .limit(limit)
      .execute();
    const out: Array<AudienceSchedule & { env_id: string; audience_id: string }> = [];
    for (const row of due) {
      const s = scheduleFromRow(row);
      // Compare-and-set on the run time: of two processes, only one moves it on.
      const r = await this.db
        .updateTable('audience_schedules')
        .set({ next_run_at_ms: now_ms + s.every_ms, last_run_at_ms: now_ms })
        .where('env_id', '=', row.env_id)
        .where('audience_id', '=', row.audience_id)
        .where('dest_id', '=', row.dest_id)
        .where('next_run_at_ms', '=', s.next_run_at_ms)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1)
        out.push({ ...s, env_id: row.env_id, audience_id: row.audience_id });
    }
    return out;
  }
}
