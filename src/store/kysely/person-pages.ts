import { type Kysely, type Selectable, sql } from 'kysely';
import type { PersonPagesPort, RecordsRead } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { MemberKeyType, PersonIds, PersonRecords } from '../store.js';
import { chunks } from './chunks.js';
import { AD_TOUCHES } from './ingest-columns.js';
import { MAX_LINKED_IDS, MAX_PERSON_ROWS, personEvent, personTouch } from './memberships.js';

// Persons and what they did, a page of identifiers at a time: the full evaluation of an
// audience. One person at a time took five queries each, and creating a "buyers" audience
// on a demo store (60,000 browsers) answered after 17 s, 11 of them in SQLite. These reads
// answer what personOf and personRecords answer, person by person, in a few queries a page.

/** Identifiers per `IN (…)` list; keeps under SQLite's bound-parameter limit. */
const IN_CHUNK = 500;

type EventRow = Pick<
  Selectable<Database['events']>,
  'pk' | 'user_id' | 'anonymous_id' | 'event_name' | 'event_time' | 'data'
>;
type TouchRow = Pick<
  Selectable<Database['touches']>,
  'id' | 'user_id' | 'anonymous_id' | 'kind' | 'campaign_id' | 'time'
>;

/** The `limit` latest rows, as personRecords reads them under one key. */
function latest<R>(rows: R[], time: (r: R) => number, limit: number): R[] {
  return rows.length <= limit ? rows : rows.sort((a, b) => time(b) - time(a)).slice(0, limit);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export class KyselyPersonPages implements PersonPagesPort {
  constructor(private readonly db: Kysely<Database>) {}

  /** personOf for each key, in order. */
  async personsOf(
    env_id: string,
    keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  ): Promise<PersonIds[]> {
    const anons = [
      ...new Set(keys.filter((k) => k.key_type === 'anonymous_id').map((k) => k.key_value)),
    ];
    // A browser id seen with a user id belongs to that user's person (the latest, if several).
    const userOf = new Map<string, { user_id: string; last_seen: number }>();
    for (const part of chunks(anons, IN_CHUNK)) {
      const rows = await this.db
        .selectFrom('identity_links')
        .select(['anonymous_id', 'key_value', 'last_seen'])
        .where('env_id', '=', env_id)
        .where('key_type', '=', 'user_id')
        .where('anonymous_id', 'in', part)
        .execute();
      for (const r of rows) {
        const seen = Number(r.last_seen);
        const known = userOf.get(r.anonymous_id);
        if (!known || seen > known.last_seen)
          userOf.set(r.anonymous_id, { user_id: r.key_value, last_seen: seen });
      }
    }
    const users = new Set<string>();
    for (const k of keys) if (k.key_type === 'user_id') users.add(k.key_value);
    for (const u of userOf.values()) users.add(u.user_id);
    const linked = new Map<string, string[]>();
    for (const part of chunks([...users], IN_CHUNK)) {
      const ranked = this.db
        .selectFrom('identity_links')
        .select((eb) => [
          'key_value',
          'anonymous_id',
          eb.fn
            .agg<number>('row_number')
            .over((ob) => ob.partitionBy('key_value').orderBy('last_seen', 'desc'))
            .as('rn'),
        ])
        .where('env_id', '=', env_id)
        .where('key_type', '=', 'user_id')
        .where('key_value', 'in', part);
      const rows = await this.db
        .selectFrom(ranked.as('l'))
        .select(['key_value', 'anonymous_id'])
        .where('rn', '<=', MAX_LINKED_IDS)
        .orderBy('key_value')
        .orderBy('rn')
        .execute();
      for (const r of rows) push(linked, r.key_value, r.anonymous_id);
    }
    return keys.map((k) => {
      const user_id =
        k.key_type === 'user_id' ? k.key_value : (userOf.get(k.key_value)?.user_id ?? null);
      if (user_id === null) return { user_id: null, anonymous_ids: [k.key_value] };
      const ids = new Set(linked.get(user_id) ?? []);
      if (k.key_type === 'anonymous_id') ids.add(k.key_value);
      return { user_id, anonymous_ids: [...ids] };
    });
  }

  /** Every user id seen with any of these browser ids (not only the latest of each). */
  async usersOf(env_id: string, anonymous_ids: readonly string[]): Promise<string[]> {
    const users = new Set<string>();
    for (const part of chunks([...new Set(anonymous_ids)], IN_CHUNK)) {
      const rows = await this.db
        .selectFrom('identity_links')
        .select('key_value')
        .where('env_id', '=', env_id)
        .where('key_type', '=', 'user_id')
        .where('anonymous_id', 'in', part)
        .execute();
      for (const r of rows) users.add(r.key_value);
    }
    return [...users];
  }

  /** personRecords for each person, in order. */
  async peopleRecords(
    env_id: string,
    persons: readonly PersonIds[],
    since_s: number,
    read: RecordsRead = {},
  ): Promise<PersonRecords[]> {
    const withTouches = read.touches ?? true;
    const users = [...new Set(persons.flatMap((p) => (p.user_id ? [p.user_id] : [])))];
    const anons = [...new Set(persons.flatMap((p) => p.anonymous_ids))];
    const eventsBy = {
      user_id: new Map<string, EventRow[]>(),
      anonymous_id: new Map<string, EventRow[]>(),
    };
    const touchesBy = {
      user_id: new Map<string, TouchRow[]>(),
      anonymous_id: new Map<string, TouchRow[]>(),
    };
    for (const [col, values] of [
      ['user_id', users],
      ['anonymous_id', anons],
    ] as const) {
      for (const part of chunks(values, IN_CHUNK)) {
        for (const r of await this.events(env_id, col, part, since_s))
          push(eventsBy[col], r[col] as string, r);
        if (withTouches)
          for (const r of await this.touches(env_id, col, part, since_s))
            push(touchesBy[col], r[col] as string, r);
      }
    }
    return persons.map((who) => {
      // As personRecords: the latest rows under the user id, and the latest under the browser
      // ids together, one row once.
      const events = new Map<string, EventRow>();
      const touches = new Map<number, TouchRow>();
      if (who.user_id) {
        for (const r of eventsBy.user_id.get(who.user_id) ?? []) events.set(r.pk, r);
        for (const r of touchesBy.user_id.get(who.user_id) ?? []) touches.set(Number(r.id), r);
      }
      const anonEvents = who.anonymous_ids.flatMap((a) => eventsBy.anonymous_id.get(a) ?? []);
      for (const r of latest(anonEvents, (x) => Number(x.event_time), MAX_PERSON_ROWS))
        events.set(r.pk, r);
      const anonTouches = who.anonymous_ids.flatMap((a) => touchesBy.anonymous_id.get(a) ?? []);
      for (const r of latest(anonTouches, (x) => Number(x.time), MAX_PERSON_ROWS))
        touches.set(Number(r.id), r);
      return {
        events: [...events.values()].map(personEvent),
        touches: [...touches.values()].map(personTouch),
      };
    });
  }

  /**
   * The events of each key since `since_s`, at most its latest MAX_PERSON_ROWS: the keys with
   * more (a crawler's cookie, a shared test login) are found by a count on the (env_id, key,
   * time) index alone and read by a bounded query each, as personRecords reads one; the rest
   * together. A key of 500,000 events costs an index count, not 500,000 rows.
   */
  private async events(env_id: string, col: MemberKeyType, values: string[], since_s: number) {
    const heavy = new Set(
      (
        await this.db
          .selectFrom('events')
          .select(col)
          .where('env_id', '=', env_id)
          .where(col, 'in', values)
          .where('event_time', '>=', since_s)
          .groupBy(col)
          .having((eb) => eb.fn.countAll(), '>', MAX_PERSON_ROWS)
          .execute()
      ).map((r) => r[col] as string),
    );
    const read = () =>
      this.db
        .selectFrom('events')
        .select(['pk', 'user_id', 'anonymous_id', 'event_name', 'event_time', 'data'])
        .where('env_id', '=', env_id)
        .where('event_time', '>=', since_s);
    const light = values.filter((v) => !heavy.has(v));
    const rows: EventRow[] = light.length > 0 ? await read().where(col, 'in', light).execute() : [];
    for (const v of heavy)
      rows.push(
        ...(await read()
          .where(col, '=', v)
          .orderBy('event_time', 'desc')
          .limit(MAX_PERSON_ROWS)
          .execute()),
      );
    return rows;
  }

  /** The impressions and clicks of each key since `since_s`, bounded as events are. */
  private async touches(env_id: string, col: MemberKeyType, values: string[], since_s: number) {
    // As personRecords: the ad touches' own partial indexes (0030_touch_kinds) serve it.
    const heavy = new Set(
      (
        await this.db
          .selectFrom('touches')
          .select(col)
          .where('env_id', '=', env_id)
          .where(col, 'in', values)
          .where('time', '>=', since_s)
          .where(sql.raw<boolean>(AD_TOUCHES))
          .groupBy(col)
          .having((eb) => eb.fn.countAll(), '>', MAX_PERSON_ROWS)
          .execute()
      ).map((r) => r[col] as string),
    );
    const read = () =>
      this.db
        .selectFrom('touches')
        .select(['id', 'user_id', 'anonymous_id', 'kind', 'campaign_id', 'time'])
        .where('env_id', '=', env_id)
        .where('time', '>=', since_s)
        .where(sql.raw<boolean>(AD_TOUCHES));
    const light = values.filter((v) => !heavy.has(v));
    const rows: TouchRow[] = light.length > 0 ? await read().where(col, 'in', light).execute() : [];
    for (const v of heavy)
      rows.push(
        ...(await read()
          .where(col, '=', v)
          .orderBy('time', 'desc')
          .limit(MAX_PERSON_ROWS)
          .execute()),
      );
    return rows;
  }
}
