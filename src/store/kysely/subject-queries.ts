import { type Kysely, type Selectable, type SqlBool, sql, type Transaction } from 'kysely';
import type { Touch } from '../../domain/event.js';
import { conversionIdOf } from '../../domain/event-key.js';
import type { Database } from '../schema.js';
import type {
  Erasure,
  ErasureCounts,
  ErasureRemovals,
  StoredEvent,
  SubjectData,
  SubjectKeys,
} from '../store.js';
import { eraseFromAudiences } from './audience-erasure.js';
import { chunks } from './chunks.js';
import { TOUCH_KIND_CLASSES } from './ingest-columns.js';
import { conversionFromRow, eventFromRow, outboxFromRow, touchFromRow } from './row-mappers.js';

/** Rounds of following identity links (cookie → email → other cookie…). */
const LINK_ROUNDS = 3;
/** Values per `IN (…)` list. */
const CHUNK = 500;

type Db = Kysely<Database> | Transaction<Database>;

/**
 * What a first read of the person found, outside the erasure's transaction (on SQLite, on the
 * read thread, off the event loop). The person's e-mail and phone hashes and cookie ids are
 * found only in the events' JSON, by a scan of the environment's events (400 days of them):
 * inside the write transaction that scan held a SQLite server's event loop 40-90 ms on 30,000
 * events, and grew with every event kept. The transaction then searches the JSON only of the
 * events received, or merged into by a later copy (event_merges), from RESCAN_MS before the
 * scan on, and reads by key the events the scan found.
 */
export interface EventScan {
  /** Events received or merged into before this (ms) were searched for `needles` by the scan. */
  before_ms: number;
  /** The values searched for: the person's e-mail and phone hashes and browser ids. */
  needles: ReadonlySet<string>;
  /** The events the scan found. */
  pks: readonly string[];
}

/**
 * How far before a scan's start the transaction searches the JSON again: an event is stamped
 * received when its transaction begins, and commits a moment later, or up to SQLite's 10 s
 * busy timeout later when another process (an import from the command line) holds the file.
 * The erasure uses a scan on SQLite only, where every writer shares this machine's clock.
 */
export const RESCAN_MS = 60_000;

interface Resolved {
  user_ids: Set<string>;
  emails: Set<string>;
  phones: Set<string>;
  anonymous_ids: Set<string>;
}

/**
 * Every id of the person: the keys given, what identity links tie to them, and the ids their
 * events carry. Links only tie keys to browser ids: a server event with an email and a user id
 * but no browser id makes none, and the touches under that user id are still the person's.
 */
async function resolve(
  db: Db,
  k: SubjectKeys,
  scan?: EventScan,
): Promise<{ r: Resolved; events: StoredEvent[] }> {
  const r: Resolved = {
    user_ids: new Set(k.user_id ? [k.user_id] : []),
    emails: new Set(k.email_sha256 ? [k.email_sha256] : []),
    phones: new Set(k.phone_sha256 ? [k.phone_sha256] : []),
    anonymous_ids: new Set(k.anonymous_id ? [k.anonymous_id] : []),
  };
  for (let round = 0; round < LINK_ROUNDS; round++) {
    await followLinks(db, k.env_id, r);
    const events = await findEvents(db, k.env_id, r, scan);
    // Nothing new: these are the events of the final ids, no need to search again.
    if (!addCarried(r, events)) return { r, events };
  }
  return { r, events: await findEvents(db, k.env_id, r, scan) };
}

/** Adds the ids the events carry; true when one was new. */
function addCarried(r: Resolved, events: readonly StoredEvent[]): boolean {
  const size = () => r.user_ids.size + r.emails.size + r.phones.size + r.anonymous_ids.size;
  const before = size();
  for (const { event } of events) {
    const u = event.user;
    if (u.user_id) r.user_ids.add(u.user_id);
    if (u.email_sha256) r.emails.add(u.email_sha256);
    if (u.phone_sha256) r.phones.add(u.phone_sha256);
    if (u.anonymous_id) r.anonymous_ids.add(u.anonymous_id);
    if (u.cookie_id) r.anonymous_ids.add(u.cookie_id);
  }
  return size() > before;
}

/** Widens `r` with what identity links tie to its ids, a few rounds deep. */
async function followLinks(db: Db, env_id: string, r: Resolved): Promise<void> {
  const sets: Record<string, Set<string>> = {
    user_id: r.user_ids,
    email: r.emails,
    phone: r.phones,
  };
  for (let round = 0; round < LINK_ROUNDS; round++) {
    const keys = Object.entries(sets).flatMap(([t, vs]) => [...vs].map((v) => [t, v] as const));
    const anons = [...r.anonymous_ids];
    if (keys.length === 0 && anons.length === 0) break;
    const links = await db
      .selectFrom('identity_links')
      .select(['key_type', 'key_value', 'anonymous_id'])
      .where('env_id', '=', env_id)
      .where((eb) =>
        eb.or([
          ...keys.map(([t, v]) => eb.and([eb('key_type', '=', t), eb('key_value', '=', v)])),
          ...(anons.length > 0 ? [eb('anonymous_id', 'in', anons)] : []),
        ]),
      )
      .execute();
    const before = r.anonymous_ids.size + keys.length;
    for (const l of links) {
      r.anonymous_ids.add(l.anonymous_id);
      sets[l.key_type]?.add(l.key_value);
    }
    const after = r.anonymous_ids.size + Object.values(sets).reduce((n, s) => n + s.size, 0);
    if (after === before) break;
  }
}

function belongs(e: StoredEvent, r: Resolved): boolean {
  const u = e.event.user;
  return (
    (!!u.user_id && r.user_ids.has(u.user_id)) ||
    (!!u.email_sha256 && r.emails.has(u.email_sha256)) ||
    (!!u.phone_sha256 && r.phones.has(u.phone_sha256)) ||
    (!!u.anonymous_id && r.anonymous_ids.has(u.anonymous_id)) ||
    (!!u.cookie_id && r.anonymous_ids.has(u.cookie_id))
  );
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
/** A LIKE pattern for a JSON string value equal to `v`. */
const needle = (v: string) => `%"${likeEscape(v)}"%`;

async function findEvents(
  db: Db,
  env_id: string,
  r: Resolved,
  scan?: EventScan,
): Promise<StoredEvent[]> {
  const values = [...r.emails, ...r.phones, ...r.anonymous_ids];
  if (values.length === 0 && r.user_ids.size === 0) return [];
  const byPk = new Map<string, StoredEvent>();
  const add = (rows: readonly Selectable<Database['events']>[]) => {
    for (const row of rows) {
      const e = eventFromRow(row);
      if (belongs(e, r)) byPk.set(e.pk, e);
    }
  };
  // The columns first, each on its own index.
  const ids = [
    ['user_id', [...r.user_ids]],
    ['anonymous_id', [...r.anonymous_ids]],
  ] as const;
  for (const [col, all] of ids)
    for (const part of chunks(all, CHUNK))
      add(
        await db
          .selectFrom('events')
          .selectAll()
          .where('env_id', '=', env_id)
          .where(col, 'in', part)
          .execute(),
      );
  // Hashes and cookie ids live in the event's JSON: a LIKE finds candidates, `belongs` decides.
  // With a scan, what it searched is searched again only where it may have changed.
  const fresh = scan ? values.filter((v) => !scan.needles.has(v)) : values;
  const seen = scan ? values.filter((v) => scan.needles.has(v)) : [];
  // `since`: only the events received from then on.
  const like = (vs: readonly string[], since_ms: number | null) =>
    db
      .selectFrom('events')
      .selectAll()
      .where('env_id', '=', env_id)
      .$if(since_ms !== null, (q) => q.where('received_at_ms', '>=', since_ms as number))
      .where((eb) =>
        eb.or(vs.map((v) => eb('data', 'like', sql<string>`${needle(v)} escape '\\'`))),
      )
      .execute();
  // The events merged into (event_merges) from then on. From the merges to the events by key,
  // in that order (a CROSS JOIN keeps SQLite's order): as `pk in (…)` SQLite walked every event
  // of the environment on its (env_id, received_at_ms) index to test the list, 34 ms for
  // 50,000 events with no merge at all.
  const likeMerged = (vs: readonly string[], since_ms: number) =>
    db
      .selectFrom('event_merges as m')
      .crossJoin('events as e')
      .selectAll('e')
      .whereRef('e.pk', '=', 'm.pk')
      .where('m.env_id', '=', env_id)
      .where('m.merged_at_ms', '>=', since_ms)
      .where('e.env_id', '=', env_id)
      .where((eb) =>
        eb.or(vs.map((v) => eb('e.data', 'like', sql<string>`${needle(v)} escape '\\'`))),
      )
      .execute();
  if (fresh.length > 0) add(await like(fresh, null));
  if (scan && seen.length > 0) {
    const since = scan.before_ms - RESCAN_MS;
    add(await like(seen, since));
    add(await likeMerged(seen, since));
    for (const part of chunks([...scan.pks], CHUNK))
      add(await db.selectFrom('events').selectAll().where('pk', 'in', part).execute());
  }
  // In the order they were received, as the scan of the table read them.
  return [...byPk.values()].sort(
    (a, b) => a.received_at_ms - b.received_at_ms || (a.pk < b.pk ? -1 : 1),
  );
}

/**
 * The person's touches as reads of one kind class (ad touches, visits) under one key column,
 * each on its own partial index (0030_touch_kinds): a read under several keys at once, or
 * without the kind, would scan the environment's touches.
 */
function personTouchReads(r: Resolved) {
  const keys = [
    ['user_id', [...r.user_ids]],
    ['anonymous_id', [...r.anonymous_ids]],
  ] as const;
  return TOUCH_KIND_CLASSES.flatMap((kind) =>
    keys.flatMap(([col, values]) =>
      chunks(values, CHUNK).map((part) => ({ kind: sql.raw<SqlBool>(kind), col, part })),
    ),
  );
}

async function findTouches(db: Db, env_id: string, r: Resolved): Promise<Touch[]> {
  const byId = new Map<number, Touch>();
  for (const { kind, col, part } of personTouchReads(r)) {
    const rows = await db
      .selectFrom('touches')
      .selectAll()
      .where('env_id', '=', env_id)
      .where(kind)
      .where(col, 'in', part)
      .execute();
    // A touch under the person's user id and browser id is read twice.
    for (const row of rows) byId.set(Number(row.id), touchFromRow(row));
  }
  return [...byId.values()];
}

async function findLinks(db: Db, env_id: string, r: Resolved) {
  const keys = [
    ...[...r.user_ids].map((v) => ['user_id', v] as const),
    ...[...r.emails].map((v) => ['email', v] as const),
    ...[...r.phones].map((v) => ['phone', v] as const),
  ];
  const anons = [...r.anonymous_ids];
  if (keys.length === 0 && anons.length === 0) return [];
  const rows = await db
    .selectFrom('identity_links')
    .selectAll()
    .where('env_id', '=', env_id)
    .where((eb) =>
      eb.or([
        ...keys.map(([t, v]) => eb.and([eb('key_type', '=', t), eb('key_value', '=', v)])),
        ...(anons.length > 0 ? [eb('anonymous_id', 'in', anons)] : []),
      ]),
    )
    .execute();
  return rows.map((l) => ({ ...l, last_seen: Number(l.last_seen) }));
}

/** Everything stored about one person (`GET /api/subjects/export`). */
export async function findSubject(db: Db, k: SubjectKeys): Promise<SubjectData> {
  const { r, events } = await resolve(db, k);
  return findResolved(db, k, r, events);
}

async function findResolved(
  db: Db,
  k: SubjectKeys,
  r: Resolved,
  events: StoredEvent[],
): Promise<SubjectData> {
  const pks = events.map((e) => e.pk);
  const conversions = [];
  for (const part of chunks(pks, CHUNK)) {
    const rows = await db
      .selectFrom('conversions')
      .selectAll()
      .where('env_id', '=', k.env_id)
      .where('conversion_id', 'in', part.map(conversionIdOf))
      .execute();
    conversions.push(...rows.map(conversionFromRow));
  }
  const convIds = [...new Set(conversions.map((c) => c.conversion_id))];
  const deliveries = [];
  for (const part of chunks(convIds, CHUNK)) {
    const rows = await db
      .selectFrom('outbox')
      .selectAll()
      .where('env_id', '=', k.env_id)
      .where('conversion_id', 'in', part)
      .execute();
    deliveries.push(...rows.map(outboxFromRow));
  }
  return {
    anonymous_ids: [...r.anonymous_ids],
    events,
    touches: await findTouches(db, k.env_id, r),
    identity_links: await findLinks(db, k.env_id, r),
    conversions,
    deliveries,
  };
}

/**
 * The first read of an erasure, outside its transaction: the person's ids and events as of
 * now. `started_ms`: a time before the read began, on the clock events are received by.
 */
export async function scanSubject(db: Db, k: SubjectKeys, started_ms: number): Promise<EventScan> {
  const { r, events } = await resolve(db, k);
  return {
    before_ms: started_ms,
    needles: new Set([...r.emails, ...r.phones, ...r.anonymous_ids]),
    pks: events.map((e) => e.pk),
  };
}

/**
 * Deletes every row of one person, in one transaction, and queues their removal from the
 * platform audiences they were sent to; answers counts per table and the removals queued.
 */
export async function eraseSubject(
  db: Transaction<Database>,
  k: SubjectKeys,
  removals: ErasureRemovals,
  now_ms: number,
  scan?: EventScan,
): Promise<Erasure> {
  const { r, events } = await resolve(db, k, scan);
  const found = await findResolved(db, k, r, events);
  const pks = found.events.map((e) => e.pk);
  const outboxIds = found.deliveries.map((d) => d.id);
  const convIds = [...new Set(found.conversions.map((c) => c.conversion_id))];
  const n = (x: { numDeletedRows: bigint }) => Number(x.numDeletedRows);
  const counts: ErasureCounts = {
    events: 0,
    dedup_keys: 0,
    conversions: 0,
    outbox: 0,
    delivery_attempts: 0,
    touches: 0,
    identity_links: 0,
    conversion_paths: 0,
    audience_rows: 0,
    impression_views: 0,
  };
  for (const part of chunks(outboxIds, CHUNK)) {
    counts.delivery_attempts += n(
      await db.deleteFrom('delivery_attempts').where('outbox_id', 'in', part).executeTakeFirst(),
    );
    counts.outbox += n(await db.deleteFrom('outbox').where('id', 'in', part).executeTakeFirst());
  }
  for (const part of chunks(convIds, CHUNK)) {
    counts.conversion_paths += n(
      await db
        .deleteFrom('conversion_paths')
        .where('env_id', '=', k.env_id)
        .where('conversion_id', 'in', part)
        .executeTakeFirst(),
    );
    counts.conversions += n(
      await db
        .deleteFrom('conversions')
        .where('env_id', '=', k.env_id)
        .where('conversion_id', 'in', part)
        .executeTakeFirst(),
    );
  }
  // A dedup key is the event's (name, id), claimed for its pk: read by its primary key, per
  // event name. By `event_pk` alone (no index holds it) each delete read every key of the
  // environment: 7 ms a statement for 50,000 events.
  const byName = new Map<string, StoredEvent[]>();
  for (const e of found.events) {
    const list = byName.get(e.event.event_name);
    if (list) list.push(e);
    else byName.set(e.event.event_name, [e]);
  }
  for (const [event_name, list] of byName)
    for (const part of chunks(list, CHUNK))
      counts.dedup_keys += n(
        await db
          .deleteFrom('dedup_keys')
          .where('env_id', '=', k.env_id)
          .where('event_name', '=', event_name)
          .where(
            'event_id',
            'in',
            part.map((e) => e.event.event_id),
          )
          .where(
            'event_pk',
            'in',
            part.map((e) => e.pk),
          )
          .executeTakeFirst(),
      );
  for (const part of chunks(pks, CHUNK))
    counts.events += n(await db.deleteFrom('events').where('pk', 'in', part).executeTakeFirst());
  // The measurements of the person's impressions go with them: each impression's own row,
  // keyed by its destination too (0038), so another DSP's impression of the same ad-server id
  // (another person's, as likely as not) keeps its verdict.
  const byDest = new Map<string, Set<string>>();
  for (const t of found.touches)
    if (t.kind === 'impression') {
      const ids = byDest.get(t.dest_id ?? '') ?? new Set<string>();
      ids.add(t.touch_id);
      byDest.set(t.dest_id ?? '', ids);
    }
  for (const [dest_id, ids] of byDest)
    for (const part of chunks([...ids], CHUNK)) {
      counts.impression_views += n(
        await db
          .deleteFrom('impression_views')
          .where('env_id', '=', k.env_id)
          .where('dest_id', '=', dest_id)
          .where('imp_id', 'in', part)
          .executeTakeFirst(),
      );
    }
  const uids = [...r.user_ids];
  const anons = [...r.anonymous_ids];
  for (const { kind, col, part } of personTouchReads(r)) {
    counts.touches += n(
      await db
        .deleteFrom('touches')
        .where('env_id', '=', k.env_id)
        .where(kind)
        .where(col, 'in', part)
        .executeTakeFirst(),
    );
  }
  // Audience members are keyed by a user id or browser id: `r` holds those of the person's
  // events too (see resolve).
  const audiences = await eraseFromAudiences(
    db,
    k.env_id,
    {
      user_ids: uids,
      anonymous_ids: anons,
    },
    removals,
    now_ms,
  );
  counts.audience_rows = audiences.rows;
  for (const l of found.identity_links) {
    counts.identity_links += n(
      await db
        .deleteFrom('identity_links')
        .where('env_id', '=', l.env_id)
        .where('key_type', '=', l.key_type)
        .where('key_value', '=', l.key_value)
        .where('anonymous_id', '=', l.anonymous_id)
        .executeTakeFirst(),
    );
  }
  return { deleted: counts, audience_removals_queued: audiences.removals_queued };
}
