import { sql, type Transaction } from 'kysely';
import type { Database } from '../schema.js';
import {
  AUDIENCE_SYNC_KIND,
  type AudienceSyncJob,
  type ErasedAudienceHold,
  type ErasureRemovals,
  type ExportIds,
  type SyncTarget,
} from '../store.js';
import { insertSyncJobs, jobsOf } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';

/** Values per `IN (…)` list. */
const CHUNK = 500;

type Trx = Transaction<Database>;

/** What taking a person out of audiences did. */
export interface AudienceErasure {
  /** Memberships and sync records deleted, and persons taken out of unsent add batches. */
  rows: number;
  /** Person × platform audience removals queued. */
  removals_queued: number;
}

interface OpenJob {
  id: number;
  dest_id: string;
  job: AudienceSyncJob;
}

const holdKey = (audience_id: string, dest_id: string) => `${audience_id}\u0000${dest_id}`;

/**
 * Takes an erased person out of audiences, in the erasure's transaction: what platforms may
 * hold of them is queued for removal (from the sync records, before those go), add batches
 * not yet sent lose them, and their memberships and sync records are deleted. `ids` are the
 * person's user ids and browser ids as stored; persons are keyed `u:<user_id>`/`a:<id>`.
 */
export async function eraseFromAudiences(
  db: Trx,
  env_id: string,
  who: { user_ids: readonly string[]; anonymous_ids: readonly string[] },
  removals: ErasureRemovals,
  now_ms: number,
): Promise<AudienceErasure> {
  const ids = [...who.user_ids, ...who.anonymous_ids];
  const persons = [...who.user_ids.map((u) => `u:${u}`), ...who.anonymous_ids.map((a) => `a:${a}`)];
  if (persons.length === 0) return { rows: 0, removals_queued: 0 };
  const erased = new Set(persons);
  const open = await openJobs(db, env_id);
  const held = await heldByPlatforms(db, env_id, persons);
  let removals_queued = 0;
  const byDest = new Map<string, ReturnType<ErasureRemovals>>();
  for (const r of removals(held)) byDest.set(r.dest_id, [...(byDest.get(r.dest_id) ?? []), r]);
  for (const [dest_id, jobs] of byDest) {
    await insertSyncJobs(db, env_id, dest_id, jobs, now_ms);
    removals_queued += jobs.reduce((sum, j) => sum + j.job.persons.length, 0);
  }
  const deleted = async (
    table: 'audience_members' | 'audience_synced' | 'holdout_entries',
    column: 'key_value' | 'person',
    values: readonly string[],
  ) => {
    let count = 0;
    for (const part of chunks(values, CHUNK)) {
      const r = await db
        .deleteFrom(table)
        .where('env_id', '=', env_id)
        .where(sql.ref(column), 'in', part)
        .executeTakeFirst();
      count += Number(r.numDeletedRows);
    }
    return count;
  };
  const rows =
    (await eraseFromAddJobs(db, open, erased)) +
    (await deleted('audience_members', 'key_value', ids)) +
    (await deleted('audience_members', 'person', persons)) +
    (await deleted('audience_synced', 'person', persons)) +
    // Who entered a holdout test (issue 23) is personal data too.
    (await deleted('holdout_entries', 'person', persons));
  return { rows, removals_queued };
}

/** Audience sync jobs not yet delivered (delivered ones keep no ids). */
async function openJobs(db: Trx, env_id: string): Promise<OpenJob[]> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'dest_id', 'payload'])
    .where('env_id', '=', env_id)
    .where('kind', '=', AUDIENCE_SYNC_KIND)
    .where('status', '!=', 'delivered')
    .where('payload', 'is not', null)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    dest_id: r.dest_id,
    job: JSON.parse(r.payload as string) as AudienceSyncJob,
  }));
}

/**
 * What the platforms may hold of the persons, per audience × destination: every one the sync
 * records name. Even a person whose latest add batch is unsent may be there: an earlier batch
 * (with ids since changed) was delivered, or an attempt timed out after the platform took it.
 * A removal of someone the platform does not hold changes nothing there.
 */
async function heldByPlatforms(
  db: Trx,
  env_id: string,
  persons: readonly string[],
): Promise<ErasedAudienceHold[]> {
  const holds = new Map<string, ErasedAudienceHold>();
  for (const part of chunks(persons, CHUNK)) {
    const rows = await db
      .selectFrom('audience_synced')
      .select(['audience_id', 'dest_id', 'person', 'ids'])
      .where('env_id', '=', env_id)
      .where('person', 'in', part)
      .orderBy('audience_id')
      .orderBy('dest_id')
      .orderBy('person')
      .execute();
    for (const r of rows) {
      const key = holdKey(r.audience_id, r.dest_id);
      const h = holds.get(key) ?? {
        audience_id: r.audience_id,
        dest_id: r.dest_id,
        targets: [],
        persons: [],
      };
      h.persons.push({ person: r.person, ids: JSON.parse(r.ids) as ExportIds });
      holds.set(key, h);
    }
  }
  const out: ErasedAudienceHold[] = [];
  for (const h of holds.values()) {
    h.targets = await sentTargets(db, env_id, h.audience_id, h.dest_id);
    if (h.targets.length > 0) out.push(h);
  }
  return out;
}

/**
 * Every platform audience the audience's add batches to this destination may have reached
 * (delivered, held by a worker now, or tried at least once: a timeout may follow the
 * platform's taking it): the jobs keep their target. Usually one; a sync may have been
 * pointed elsewhere since, and the person may sit in the older one.
 */
async function sentTargets(
  db: Trx,
  env_id: string,
  audience_id: string,
  dest_id: string,
): Promise<SyncTarget[]> {
  const rows = await db
    .selectFrom('outbox')
    .select('payload')
    .where('env_id', '=', env_id)
    .where('kind', '=', AUDIENCE_SYNC_KIND)
    .where('dest_id', '=', dest_id)
    .where(jobsOf(audience_id))
    .where((eb) =>
      eb.or([
        eb('status', '=', 'delivered'),
        eb('lease_owner', 'is not', null),
        eb('attempts', '>', 0),
      ]),
    )
    .where('payload', 'is not', null)
    .orderBy('id')
    .execute();
  const targets = new Map<string, SyncTarget>();
  for (const r of rows) {
    const job = JSON.parse(r.payload as string) as AudienceSyncJob;
    if (job.action !== 'add') continue;
    const t = { platform_audience_id: job.platform_audience_id, advertiser_id: job.advertiser_id };
    targets.set(JSON.stringify(t), t);
  }
  return [...targets.values()];
}

/**
 * Takes the persons out of add batches not yet delivered, so an erased person is not sent
 * afterwards; a batch left empty goes. Remove batches keep them: they take the person off the
 * platform, and their ids go once delivered. Answers how many persons were taken out.
 */
async function eraseFromAddJobs(
  db: Trx,
  open: readonly OpenJob[],
  erased: ReadonlySet<string>,
): Promise<number> {
  let taken = 0;
  for (const { id, job } of open) {
    if (job.action !== 'add') continue;
    const left = job.persons.filter((p) => !erased.has(p.person));
    if (left.length === job.persons.length) continue;
    taken += job.persons.length - left.length;
    if (left.length === 0) {
      await db.deleteFrom('delivery_attempts').where('outbox_id', '=', id).execute();
      await db.deleteFrom('outbox').where('id', '=', id).execute();
    } else {
      await db
        .updateTable('outbox')
        .set({ payload: JSON.stringify({ ...job, persons: left }) })
        .where('id', '=', id)
        .execute();
    }
  }
  return taken;
}
