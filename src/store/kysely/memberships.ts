import { setImmediate as nextTurn } from 'node:timers/promises';
import { CompiledQuery, type Kysely, type Selectable, sql } from 'kysely';
import type { CandidateSource } from '../../domain/audience-candidates.js';
import type { TouchKind, TrackedEvent } from '../../domain/event.js';
import type { MembershipsPort, RecordsRead } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { AudienceMembersTable } from '../schema-audiences.js';
import type { MemberKeyType, MembershipRow, PersonIds, PersonRecords } from '../store.js';
import { AD_TOUCHES, TOUCH_KIND_CLASSES } from './ingest-columns.js';
import { isTransactionConflict } from './transaction-conflict.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 200;
/** Events and touches read per person; more than any audience rule needs. */
export const MAX_PERSON_ROWS = 2000;
/**
 * Member rows read a page at a time, with a turn of the event loop between pages: an export
 * or a sync of 26,000 members in one read held a SQLite server 187-319 ms, a page of 5,000
 * about 20 ms.
 */
export const MEMBER_PAGE_ROWS = 2_000;
/** Runs of a page's memberships transaction that PostgreSQL aborted for a conflict. */
const WRITE_ATTEMPTS = 4;
/** Browser ids one user id is followed across. */
export const MAX_LINKED_IDS = 50;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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

/** What evaluation needs of a stored event, with the hashes it carried. */
export function personEvent(
  r: Pick<Selectable<Database['events']>, 'event_name' | 'event_time' | 'data'>,
): PersonRecords['events'][number] {
  const e = JSON.parse(r.data) as TrackedEvent;
  return {
    event_name: r.event_name,
    time: num(r.event_time),
    properties: e.properties,
    email_sha256: e.user.email_sha256 ?? null,
    phone_sha256: e.user.phone_sha256 ?? null,
    phone_e164_sha256: e.user.phone_e164_sha256 ?? null,
  };
}

/** What evaluation needs of a stored touch. */
export function personTouch(
  r: Pick<Selectable<Database['touches']>, 'kind' | 'campaign_id' | 'time'>,
): PersonRecords['touches'][number] {
  return { kind: r.kind as TouchKind, campaign_id: r.campaign_id, time: num(r.time) };
}

/** Persons and their audience memberships, over Kysely. */
export class KyselyMemberships implements MembershipsPort {
  constructor(
    private readonly db: Kysely<Database>,
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

  async personRecords(
    env_id: string,
    who: PersonIds,
    since_s: number,
    read: RecordsRead = {},
  ): Promise<PersonRecords> {
    const withTouches = read.touches ?? true;
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
        // Conditions name impressions and clicks only: visits never crowd them out of the
        // bound, and the ad touches' own partial index (0030_touch_kinds) serves the read.
        .where(sql.raw<boolean>(AD_TOUCHES))
        .orderBy('time', 'desc')
        .limit(MAX_PERSON_ROWS);
    // One query per key, so each uses its own (env_id, key, time) index.
    if (who.user_id) {
      for (const r of await events().where('user_id', '=', who.user_id).execute())
        eventRows.set(r.pk, r);
      if (withTouches)
        for (const r of await touches().where('user_id', '=', who.user_id).execute())
          touchRows.set(Number(r.id), r);
    }
    if (who.anonymous_ids.length > 0) {
      for (const r of await events().where('anonymous_id', 'in', who.anonymous_ids).execute())
        eventRows.set(r.pk, r);
      if (withTouches)
        for (const r of await touches().where('anonymous_id', 'in', who.anonymous_ids).execute())
          touchRows.set(Number(r.id), r);
    }
    return {
      events: [...eventRows.values()].map(personEvent),
      touches: [...touchRows.values()].map(personTouch),
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
    only: readonly CandidateSource[] | null,
  ): Promise<string[]> {
    const eventNames = only?.flatMap((s) => (s.type === 'event' ? [s.event] : [])) ?? null;
    const touchSources = only?.flatMap((s) => (s.type === 'touch' ? [s] : [])) ?? null;
    const events = this.db
      .selectFrom('events')
      .select(this.bytes(col).as('v'))
      .distinct()
      .where('env_id', '=', env_id)
      .where(col, 'is not', null)
      .where('event_time', '>=', since_s)
      .$if(eventNames !== null, (q) => q.where('event_name', 'in', eventNames as string[]))
      .orderBy('v')
      .limit(limit);
    // Ad touches and visits each on their own partial index (0030_touch_kinds); conditions
    // name ad touches only, so candidates never come from visits.
    const kinds = [...new Set(touchSources?.map((s) => s.touch) ?? [])];
    const campaigns = touchSources?.every((s) => s.campaign_id !== null)
      ? [...new Set(touchSources.map((s) => s.campaign_id as string))]
      : null;
    const touches = (only === null ? TOUCH_KIND_CLASSES : [AD_TOUCHES]).map((kind) =>
      this.db
        .selectFrom('touches')
        .select(this.bytes(col).as('v'))
        .distinct()
        .where('env_id', '=', env_id)
        .where(sql.raw<boolean>(kind))
        .where(col, 'is not', null)
        .where('time', '>=', since_s)
        .$if(only !== null && kinds.length === 1, (q) => q.where('kind', '=', kinds[0] as string))
        .$if(campaigns !== null, (q) => q.where('campaign_id', 'in', campaigns as string[]))
        .orderBy('v')
        .limit(limit),
    );
    const [a, ...b] = await Promise.all([
      eventNames?.length === 0
        ? []
        : (after === null ? events : events.where(this.bytes(col), '>', after)).execute(),
      ...(touchSources?.length === 0 ? [] : touches).map((q) =>
        (after === null ? q : q.where(this.bytes(col), '>', after)).execute(),
      ),
    ]);
    // The first `limit` of the merged lists are exact: each list holds its first `limit`.
    const merged = [...new Set([...a, ...b.flat()].map((r) => r.v as string))].sort();
    return merged.slice(0, limit);
  }

  async identifiersSince(
    env_id: string,
    since_s: number,
    after: { key_type: MemberKeyType; key_value: string } | null,
    limit: number,
    only: readonly CandidateSource[] | null = null,
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
        only,
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
      only,
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

  /**
   * A page of a full evaluation's answers, written in one transaction. Rows go in key order,
   * so that two pages sharing ids (two processes, or the queue beside a sweep) lock them in
   * the same order; a page PostgreSQL still aborts for a deadlock is written again.
   */
  async writeMemberships(
    env_id: string,
    audience_id: string,
    upsert: readonly MembershipRow[],
    remove: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
    now_ms: number,
  ) {
    const byKey = <K extends { key_type: string; key_value: string }>(a: K, b: K) =>
      a.key_type < b.key_type
        ? -1
        : a.key_type > b.key_type
          ? 1
          : a.key_value < b.key_value
            ? -1
            : a.key_value > b.key_value
              ? 1
              : 0;
    const rows = [...upsert].sort(byKey);
    const keys = [...remove].sort(byKey);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.transaction().execute(async (trx) => {
          const inTrx = new KyselyMemberships(trx, this.byteOrder);
          await inTrx.upsertMemberships(env_id, audience_id, rows, now_ms);
          await inTrx.deleteMemberships(env_id, audience_id, keys);
        });
        return;
      } catch (e) {
        if (attempt >= WRITE_ATTEMPTS || !isTransactionConflict(e)) throw e;
      }
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
    const out: MembershipRow[] = [];
    let after: string | null = null;
    for (;;) {
      const from: string | null = after;
      const rows: Array<Selectable<AudienceMembersTable>> = await this.db
        .selectFrom('audience_members')
        .selectAll()
        .where('env_id', '=', env_id)
        .where('audience_id', '=', audience_id)
        .where('member', '=', 1)
        .$if(from !== null, (q) => q.where('person', '>', from as string))
        .orderBy('person')
        .orderBy('key_type', 'desc')
        .limit(MEMBER_PAGE_ROWS)
        .execute();
      // One row per person; user_id rows sort first, so the extern id is the user id if known.
      // A page that ends partway through a person holds that first row: the next page starts
      // after them.
      let previous: string | null = null;
      for (const r of rows) {
        if (r.person !== previous) out.push(memberFromRow(r));
        previous = r.person;
      }
      if (rows.length < MEMBER_PAGE_ROWS || previous === null) return out;
      after = previous;
      // Received and mapped on the event loop: pixels and events go between pages.
      await nextTurn();
    }
  }
}
