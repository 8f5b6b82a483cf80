import { CompiledQuery, type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { TouchKind, TrackedEvent } from '../domain/event.js';
import { holdClaims, insertSyncJobs, jobsOf } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';
import { bumpDefinitionVersion, definitionVersion } from './definition-versions.js';
import { attemptFromRow, eventFromRow, outboxFromRow } from './row-mappers.js';
import type { Database } from './schema.js';
import type { AudienceMembersTable, ConversionPathsTable } from './schema-audiences.js';
import type {
  AudienceRecord,
  AudienceSchedule,
  AudienceStore,
  AudienceSyncJob,
  ConversionPathRecord,
  ExportIds,
  KeyedSyncJob,
  MemberKeyType,
  MembershipRow,
  PathTouchRecord,
  PersonIds,
  PersonRecords,
} from './store.js';
import { AUDIENCE_SYNC_KIND } from './store.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 200;
/** Events and touches read per person; more than any audience rule needs. */
const MAX_PERSON_ROWS = 2000;
/** Browser ids one user id is followed across. */
const MAX_LINKED_IDS = 50;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function pathToRow(p: ConversionPathRecord): ConversionPathsTable {
  return { ...p, touches: JSON.stringify(p.touches) };
}

function pathFromRow(r: Selectable<ConversionPathsTable>): ConversionPathRecord {
  return {
    env_id: r.env_id,
    conversion_id: r.conversion_id,
    event_pk: r.event_pk,
    event_name: r.event_name,
    event_time: num(r.event_time),
    value: r.value === null ? null : Number(r.value),
    currency: r.currency,
    lookback_s: num(r.lookback_s),
    touches: JSON.parse(r.touches) as PathTouchRecord[],
    created_at_ms: num(r.created_at_ms),
  };
}

function memberFromRow(r: Selectable<AudienceMembersTable>): MembershipRow {
  return {
    key_type: r.key_type as MemberKeyType,
    key_value: r.key_value,
    person: r.person,
    member: num(r.member) === 1,
    changes_at: numOrNull(r.changes_at),
    email_sha256: r.email_sha256,
    phone_sha256: r.phone_sha256,
    phone_e164_sha256: r.phone_e164_sha256,
  };
}

/** Writes or replaces conversion paths; shared by ingest and recompute. */
export async function putPaths(
  db: Kysely<Database>,
  paths: readonly ConversionPathRecord[],
): Promise<void> {
  for (let i = 0; i < paths.length; i += INSERT_CHUNK_ROWS) {
    await db
      .insertInto('conversion_paths')
      .values(paths.slice(i, i + INSERT_CHUNK_ROWS).map(pathToRow))
      .onConflict((oc) =>
        oc.columns(['env_id', 'conversion_id']).doUpdateSet((eb) => ({
          touches: eb.ref('excluded.touches'),
          lookback_s: eb.ref('excluded.lookback_s'),
          value: eb.ref('excluded.value'),
          currency: eb.ref('excluded.currency'),
        })),
      )
      .execute();
  }
}

/** The audience and attribution-path half of the Kysely store, for both dialects. */
export class KyselyAudienceStore implements AudienceStore {
  constructor(
    readonly db: Kysely<Database>,
    private readonly byteOrder: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /**
   * The column in byte order: PostgreSQL sorts text by the database's locale, which would
   * disagree with the JavaScript merge below and make pages skip or repeat ids.
   */
  private bytes(col: MemberKeyType) {
    return this.byteOrder === 'postgres'
      ? sql<string>`${sql.ref(col)} collate "C"`
      : sql<string>`${sql.ref(col)}`;
  }

  async listConversionPaths(env_id: string, from_s: number, to_s: number) {
    const rows = await this.db
      .selectFrom('conversion_paths')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .orderBy('event_time')
      .orderBy('conversion_id')
      .execute();
    return rows.map(pathFromRow);
  }

  async getConversionPath(env_id: string, conversion_id: string) {
    const row = await this.db
      .selectFrom('conversion_paths')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('conversion_id', '=', conversion_id)
      .executeTakeFirst();
    return row ? pathFromRow(row) : null;
  }

  putConversionPaths(paths: readonly ConversionPathRecord[]) {
    return putPaths(this.db, paths);
  }

  async conversionEvents(
    env_id: string,
    from_s: number,
    to_s: number,
    after: string | null,
    limit: number,
  ) {
    let q = this.db
      .selectFrom('conversions')
      .select(['conversion_id', 'event_pk'])
      .distinct()
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .orderBy('conversion_id')
      .limit(limit);
    if (after !== null) q = q.where('conversion_id', '>', after);
    const convs = await q.execute();
    if (convs.length === 0) return [];
    const events = await this.db
      .selectFrom('events')
      .selectAll()
      .where(
        'pk',
        'in',
        convs.map((c) => c.event_pk),
      )
      .execute();
    const byPk = new Map(events.map((e) => [e.pk, eventFromRow(e)]));
    return convs.flatMap((c) => {
      const stored = byPk.get(c.event_pk);
      return stored ? [{ conversion_id: c.conversion_id, stored }] : [];
    });
  }

  async countConversionEvents(env_id: string, from_s: number, to_s: number) {
    const row = await this.db
      .selectFrom('conversions')
      .select((eb) => eb.fn.count<number>('conversion_id').distinct().as('n'))
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async createAudience(a: AudienceRecord) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('audiences')
        .values({ ...a, rules: JSON.stringify(a.rules) })
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async audiencesVersion() {
    return definitionVersion(this.db, 'audiences');
  }

  private audienceFromRow(r: Selectable<Database['audiences']>): AudienceRecord {
    return {
      env_id: r.env_id,
      id: r.id,
      name: r.name,
      rules: JSON.parse(r.rules),
      min_export_size: num(r.min_export_size),
      created_at_ms: num(r.created_at_ms),
      recomputed_at_ms: numOrNull(r.recomputed_at_ms),
    };
  }

  async getAudience(id: string) {
    const row = await this.db
      .selectFrom('audiences')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.audienceFromRow(row) : null;
  }

  async listAudiences(env_id: string) {
    const rows = await this.db
      .selectFrom('audiences')
      .selectAll()
      .where('env_id', '=', env_id)
      .orderBy('created_at_ms')
      .execute();
    return rows.map((r) => this.audienceFromRow(r));
  }

  async markAudienceRecomputed(env_id: string, id: string, at_ms: number) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('audiences')
        .set({ recomputed_at_ms: at_ms })
        .where('env_id', '=', env_id)
        .where('id', '=', id)
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async personOf(env_id: string, key_type: MemberKeyType, key_value: string): Promise<PersonIds> {
    // A browser id seen with a user id belongs to that user's person (the latest, if several).
    const user_id =
      key_type === 'user_id'
        ? key_value
        : ((
            await this.db
              .selectFrom('identity_links')
              .select('key_value')
              .where('env_id', '=', env_id)
              .where('anonymous_id', '=', key_value)
              .where('key_type', '=', 'user_id')
              .orderBy('last_seen', 'desc')
              .limit(1)
              .executeTakeFirst()
          )?.key_value ?? null);
    if (user_id === null) return { user_id: null, anonymous_ids: [key_value] };
    const linked = await this.db
      .selectFrom('identity_links')
      .select('anonymous_id')
      .where('env_id', '=', env_id)
      .where('key_type', '=', 'user_id')
      .where('key_value', '=', user_id)
      .orderBy('last_seen', 'desc')
      .limit(MAX_LINKED_IDS)
      .execute();
    const ids = new Set(linked.map((l) => l.anonymous_id));
    if (key_type === 'anonymous_id') ids.add(key_value);
    return { user_id, anonymous_ids: [...ids] };
  }

  async personRecords(env_id: string, who: PersonIds, since_s: number): Promise<PersonRecords> {
    const eventRows = new Map<string, Selectable<Database['events']>>();
    const touchRows = new Map<number, Selectable<Database['touches']>>();
    const events = () =>
      this.db
        .selectFrom('events')
        .selectAll()
        .where('env_id', '=', env_id)
        .where('event_time', '>=', since_s)
        .orderBy('event_time', 'desc')
        .limit(MAX_PERSON_ROWS);
    const touches = () =>
      this.db
        .selectFrom('touches')
        .selectAll()
        .where('env_id', '=', env_id)
        .where('time', '>=', since_s)
        .orderBy('time', 'desc')
        .limit(MAX_PERSON_ROWS);
    // One query per key, so each uses its own (env_id, key, time) index.
    if (who.user_id) {
      for (const r of await events().where('user_id', '=', who.user_id).execute())
        eventRows.set(r.pk, r);
      for (const r of await touches().where('user_id', '=', who.user_id).execute())
        touchRows.set(Number(r.id), r);
    }
    if (who.anonymous_ids.length > 0) {
      for (const r of await events().where('anonymous_id', 'in', who.anonymous_ids).execute())
        eventRows.set(r.pk, r);
      for (const r of await touches().where('anonymous_id', 'in', who.anonymous_ids).execute())
        touchRows.set(Number(r.id), r);
    }
    return {
      events: [...eventRows.values()].map((r) => {
        const e = JSON.parse(r.data) as TrackedEvent;
        return {
          event_name: r.event_name,
          time: num(r.event_time),
          properties: e.properties,
          email_sha256: e.user.email_sha256 ?? null,
          phone_sha256: e.user.phone_sha256 ?? null,
          phone_e164_sha256: e.user.phone_e164_sha256 ?? null,
        };
      }),
      touches: [...touchRows.values()].map((r) => ({
        kind: r.kind as TouchKind,
        campaign_id: r.campaign_id,
        time: num(r.time),
      })),
    };
  }

  /**
   * Distinct values of one id column seen since `since_s`, after `after`, in value order.
   * Each source is read on its own (env_id, id, time) index from `after` on, so paging
   * through millions of ids stays linear instead of re-sorting a union per page.
   */
  private async distinctIds(
    col: MemberKeyType,
    env_id: string,
    since_s: number,
    after: string | null,
    limit: number,
  ): Promise<string[]> {
    const events = this.db
      .selectFrom('events')
      .select(this.bytes(col).as('v'))
      .distinct()
      .where('env_id', '=', env_id)
      .where(col, 'is not', null)
      .where('event_time', '>=', since_s)
      .orderBy('v')
      .limit(limit);
    const touches = this.db
      .selectFrom('touches')
      .select(this.bytes(col).as('v'))
      .distinct()
      .where('env_id', '=', env_id)
      .where(col, 'is not', null)
      .where('time', '>=', since_s)
      .orderBy('v')
      .limit(limit);
    const [a, b] = await Promise.all([
      (after === null ? events : events.where(this.bytes(col), '>', after)).execute(),
      (after === null ? touches : touches.where(this.bytes(col), '>', after)).execute(),
    ]);
    // The first `limit` of the merged lists are exact: each list holds its first `limit`.
    const merged = [...new Set([...a, ...b].map((r) => r.v as string))].sort();
    return merged.slice(0, limit);
  }

  async identifiersSince(
    env_id: string,
    since_s: number,
    after: { key_type: MemberKeyType; key_value: string } | null,
    limit: number,
  ) {
    // Pages go through user ids first, then browser ids, each in value order.
    const out: Array<{ key_type: MemberKeyType; key_value: string }> = [];
    if (!after || after.key_type === 'user_id') {
      const users = await this.distinctIds(
        'user_id',
        env_id,
        since_s,
        after?.key_value ?? null,
        limit,
      );
      for (const v of users) out.push({ key_type: 'user_id', key_value: v });
      if (out.length >= limit) return out;
    }
    const anonAfter = after?.key_type === 'anonymous_id' ? after.key_value : null;
    const anons = await this.distinctIds(
      'anonymous_id',
      env_id,
      since_s,
      anonAfter,
      limit - out.length,
    );
    for (const v of anons) out.push({ key_type: 'anonymous_id', key_value: v });
    return out;
  }

  async upsertMemberships(
    env_id: string,
    audience_id: string,
    rows: readonly MembershipRow[],
    now_ms: number,
  ) {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK_ROWS) {
      await this.db
        .insertInto('audience_members')
        .values(
          rows.slice(i, i + INSERT_CHUNK_ROWS).map((r) => ({
            env_id,
            audience_id,
            ...r,
            member: r.member ? 1 : 0,
            updated_at_ms: now_ms,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['env_id', 'audience_id', 'key_type', 'key_value']).doUpdateSet((eb) => ({
            person: eb.ref('excluded.person'),
            member: eb.ref('excluded.member'),
            changes_at: eb.ref('excluded.changes_at'),
            email_sha256: eb.ref('excluded.email_sha256'),
            phone_sha256: eb.ref('excluded.phone_sha256'),
            phone_e164_sha256: eb.ref('excluded.phone_e164_sha256'),
            updated_at_ms: eb.ref('excluded.updated_at_ms'),
          })),
        )
        .execute();
    }
  }

  async deleteMemberships(
    env_id: string,
    audience_id: string,
    keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  ) {
    for (const type of ['anonymous_id', 'user_id'] as const) {
      const values = keys.filter((k) => k.key_type === type).map((k) => k.key_value);
      for (let i = 0; i < values.length; i += INSERT_CHUNK_ROWS) {
        await this.db
          .deleteFrom('audience_members')
          .where('env_id', '=', env_id)
          .where('audience_id', '=', audience_id)
          .where('key_type', '=', type)
          .where('key_value', 'in', values.slice(i, i + INSERT_CHUNK_ROWS))
          .execute();
      }
    }
  }

  /**
   * The retargeting lookup's SQL, compiled once with placeholder values: building and
   * compiling the query on every call cost more than the indexed read itself.
   */
  private membershipSql: string | null = null;

  async getMembership(
    env_id: string,
    audience_id: string,
    key_type: MemberKeyType,
    key_value: string,
  ) {
    this.membershipSql ??= this.db
      .selectFrom('audience_members')
      .selectAll()
      .where('env_id', '=', '')
      .where('audience_id', '=', '')
      .where('key_type', '=', '')
      .where('key_value', '=', '')
      .compile().sql;
    const { rows } = await this.db.executeQuery<Selectable<AudienceMembersTable>>(
      CompiledQuery.raw(this.membershipSql, [env_id, audience_id, key_type, key_value]),
    );
    return rows[0] ? memberFromRow(rows[0]) : null;
  }

  async membershipsDue(env_id: string, audience_id: string, now_s: number, limit: number) {
    const rows = await this.db
      .selectFrom('audience_members')
      .select(['key_type', 'key_value'])
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('changes_at', '<=', now_s)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ key_type: r.key_type as MemberKeyType, key_value: r.key_value }));
  }

  async audienceMembers(env_id: string, audience_id: string) {
    const rows = await this.db
      .selectFrom('audience_members')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('member', '=', 1)
      .orderBy('person')
      .orderBy('key_type', 'desc')
      .execute();
    // One row per person; user_id rows sort first, so the extern id is the user id if known.
    const seen = new Set<string>();
    return rows.map(memberFromRow).filter((r) => !seen.has(r.person) && !!seen.add(r.person));
  }

  async audienceSize(env_id: string, audience_id: string) {
    const row = await this.db
      .selectFrom('audience_members')
      .select((eb) => eb.fn.count<number>('person').distinct().as('n'))
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('member', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async recordAudienceSize(env_id: string, audience_id: string, at_ms: number, size: number) {
    await this.db
      .insertInto('audience_sizes')
      .values({ env_id, audience_id, at_ms, size })
      .onConflict((oc) => oc.columns(['env_id', 'audience_id', 'at_ms']).doUpdateSet({ size }))
      .execute();
  }

  async audienceSizes(env_id: string, audience_id: string, limit: number) {
    const rows = await this.db
      .selectFrom('audience_sizes')
      .select(['at_ms', 'size'])
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .orderBy('at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ at_ms: num(r.at_ms), size: num(r.size) })).reverse();
  }

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

  markSynced(
    env_id: string,
    audience_id: string,
    dest_id: string,
    added: ReadonlyArray<{ person: string; ids: ExportIds }>,
    removed: readonly string[],
    at_ms: number,
  ) {
    return this.db
      .transaction()
      .execute((trx) => markSyncedIn(trx, env_id, audience_id, dest_id, added, removed, at_ms));
  }

  async updateAudience(
    env_id: string,
    id: string,
    f: Pick<AudienceRecord, 'name' | 'rules' | 'min_export_size'>,
  ) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('audiences')
        .set({ name: f.name, rules: JSON.stringify(f.rules), min_export_size: f.min_export_size })
        .where('env_id', '=', env_id)
        .where('id', '=', id)
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async deleteAudience(env_id: string, id: string) {
    await this.db.transaction().execute(async (trx) => {
      // Removals not yet delivered stay: they take people (erased ones among them) off the
      // platform's copy, which deleting ours does not touch.
      const jobs = (
        await trx
          .selectFrom('outbox')
          .select(['id', 'status', 'payload'])
          .where('env_id', '=', env_id)
          .where('kind', '=', AUDIENCE_SYNC_KIND)
          .where(jobsOf(id))
          .execute()
      ).filter(
        (j) =>
          j.status === 'delivered' ||
          !j.payload ||
          (JSON.parse(j.payload as string) as AudienceSyncJob).action !== 'remove',
      );
      for (let i = 0; i < jobs.length; i += INSERT_CHUNK_ROWS) {
        const ids = jobs.slice(i, i + INSERT_CHUNK_ROWS).map((j) => Number(j.id));
        await trx.deleteFrom('delivery_attempts').where('outbox_id', 'in', ids).execute();
        await trx.deleteFrom('outbox').where('id', 'in', ids).execute();
      }
      for (const table of [
        'audience_members',
        'audience_sizes',
        'audience_synced',
        'audience_schedules',
      ] as const) {
        await trx
          .deleteFrom(table)
          .where('env_id', '=', env_id)
          .where('audience_id', '=', id)
          .execute();
      }
      await trx.deleteFrom('audiences').where('env_id', '=', env_id).where('id', '=', id).execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async clearMemberships(env_id: string, audience_id: string) {
    await this.db
      .deleteFrom('audience_members')
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .execute();
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
      await holdClaims(trx, this.byteOrder);
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
