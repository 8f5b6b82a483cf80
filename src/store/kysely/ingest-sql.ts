import type { Selectable } from 'kysely';
import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import { parseClearUser } from '../../domain/customer-info.js';
import type { TrackedEvent } from '../../domain/event.js';
import { receivedMsOfKey } from '../../domain/event-key.js';
import type { ConversionsTable, EventsTable } from '../schema.js';
import type { ConversionPathRecord, ConversionRecord, DeliveryRequest } from '../store.js';
import {
  CLICKS,
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  EVENT_COLUMNS,
  ipLookupText,
  MAX_TOUCHES_PER_LOOKUP,
  OUTBOX_INSERT_COLUMNS,
  OUTBOX_RECORD_COLUMNS,
  PATH_COLUMNS,
  PATH_CONFLICT,
  TOUCH_SELECT,
  TOUCH_WRITE_COLUMNS,
  touchLookupText,
} from './ingest-columns.js';
import { insertText, placeholders, quoted, textsByLength } from './ingest-statements.js';
import { conversionValues } from './row-mappers.js';

export type ConversionRow = Selectable<ConversionsTable>;
export type EventRow = Selectable<EventsTable>;

export const INSERT_EVENT = insertText('events', EVENT_COLUMNS);

/**
 * Claims an event's dedup key: a new key, or one whose holder is stale. It changes one row
 * exactly when the claim is won, so SQLite reads its change count: a RETURNING clause costs
 * SQLite a temporary table per call (2-3 µs of a single event's ~12).
 */
export const CLAIM_DEDUP_UPSERT = `${insertText('dedup_keys', ['env_id', 'event_name', 'event_id', 'event_pk', 'first_seen'])}
  on conflict ("env_id", "event_name", "event_id") do update set "event_pk" = ?, "first_seen" = ?
  where "dedup_keys"."first_seen" < ?`;
export const CLAIM_DEDUP = `${CLAIM_DEDUP_UPSERT} returning "event_pk"`;
// `ins` runs only when `claim` returned its row: a lost claim inserts no event.
export const CLAIM_AND_INSERT_EVENT = `with claim as (${CLAIM_DEDUP}),
  ins as (insert into "events" (${EVENT_COLUMNS.map((c) => `"${c}"`).join(', ')})
    select ${EVENT_COLUMNS.map(() => '?').join(', ')} where exists (select 1 from claim))
  select count(*) as won from claim`;
export const FIND_DEDUP = `select "event_pk", "first_seen" from "dedup_keys"
  where "env_id" = ? and "event_name" = ? and "event_id" = ?`;

const PUT_CONVERSION = `${insertText('conversions', CONVERSION_COLUMNS)} ${CONVERSION_CONFLICT}`;
const PUT_PATH = `${insertText('conversion_paths', PATH_COLUMNS)} ${PATH_CONFLICT}`;

const ENQUEUE_BASE = `${insertText('outbox', OUTBOX_INSERT_COLUMNS)}
  on conflict ("env_id", "conversion_id", "dest_id") do update set "status" = 'pending',
  "next_attempt_at_ms" = ?, "lease_until_ms" = null, "lease_owner" = null, "attempts" = 0,
  "first_attempt_at_ms" = null, "updated_at_ms" = ?`;
const ENQUEUE = ENQUEUE_BASE;
const ENQUEUE_WITH_IP = `${ENQUEUE_BASE}, "raw_ip" = ?`;
const ENQUEUE_WITH_CLEAR = `${ENQUEUE_BASE}, "clear_user" = ?`;
const ENQUEUE_WITH_IP_CLEAR = `${ENQUEUE_WITH_IP}, "clear_user" = ?`;

/**
 * PostgreSQL: a batch of touches as one array per column. A multi-row VALUES list has 13
 * parameters per row for the server to parse and plan (its CPU is the pixel's limit under
 * `serve --workers`); this text is the same for every batch.
 */
export const INSERT_TOUCHES_UNNEST = `insert into "touches" (${TOUCH_WRITE_COLUMNS.map((c) => `"${c}"`).join(', ')})
  select * from unnest(${TOUCH_WRITE_COLUMNS.map((c) => `?::${c === 'time' ? 'bigint' : 'text'}[]`).join(', ')})`;

/**
 * One indexed touch query per key, so each uses its own (env_id, key, time) indexes: ad
 * touches, and visits apart when `visits` (touchLookupParams gives its parameters).
 */
export function touchQuery(where: string, visits: boolean): string {
  return touchLookupText('?', '?', where, visits);
}
export const TOUCHES_BY_USER = touchQuery('"user_id" = ?', true);
export const TOUCHES_BY_IP = ipLookupText('?', '?', '?', '"ip" = ?');

/**
 * How many clicks (up to a cap) a browser id or an address made in a time range (install
 * fraud checks). Fixed text, so PostgreSQL keeps it as a named statement: an ingest
 * transaction runs generic plans (set-wise-ingest.ts), and a query built anew would be
 * planned generically on every run, over every day partition of the touches. Its bound LIMIT
 * makes SQLite prepare it again on each run (literal-limits.ts), a few µs on an install's
 * checks alone.
 */
export const COUNT_CLICKS = {
  anonymous_id: countClicksText('"anonymous_id"'),
  ip: countClicksText('"ip"'),
} as const;
function countClicksText(column: string): string {
  return `select count(*) as "n" from (select "id" from "touches" where "env_id" = ?
    and ${column} = ? and ${CLICKS} and "time" >= ? and "time" <= ? limit ?) as "c"`;
}

/**
 * TOUCHES_BY_IP's ids alone, in its order. SQLite still reads the ad parts' table rows (their
 * partial index holds no `kind` to test); the saving is the JavaScript values of 15 columns a
 * row that are not made (see TouchCache).
 */
export const TOUCH_IDS_BY_IP = ipLookupText('?', '?', '?', '"ip" = ?', 'select "id"');
/** The touches of a JSON array of ids (SQLite), in no order. */
export const TOUCHES_OF_IDS = `${TOUCH_SELECT} from "touches" where "id" in (select "value" from json_each(?))`;

/** Reads by key look in the partition of the time the key carries. */
export function checkKeyTime(pk: string, received_at_ms: number): void {
  const keyed = receivedMsOfKey(pk);
  if (keyed !== null && keyed !== received_at_ms)
    throw new Error(`event key ${pk} carries ${keyed}, not its receive time ${received_at_ms}`);
}

export function claimParams(
  env_id: string,
  event_name: string,
  event_id: string,
  event_pk: string,
  first_seen: number,
  stale_before: number,
): unknown[] {
  return [env_id, event_name, event_id, event_pk, first_seen, event_pk, first_seen, stale_before];
}

export function pathStatement(p: ConversionPathRecord): [string, unknown[]] {
  return [PUT_PATH, PATH_COLUMNS.map((k) => (k === 'touches' ? JSON.stringify(p.touches) : p[k]))];
}

export function conversionStatement(c: ConversionRecord): [string, unknown[]] {
  return [PUT_CONVERSION, conversionValues(c)];
}

/** The stored event as its platform gets it: with the raw IP and clear values of its row. */
export function withRideAlong(
  stored: TrackedEvent,
  row: { raw_ip: string | null; clear_user: string | null },
): TrackedEvent {
  const clear = parseClearUser(row.clear_user);
  const user = row.raw_ip ? { ...stored.user, ip: row.raw_ip } : stored.user;
  return { ...stored, user, ...(clear ? { clear_user: clear } : {}) };
}

export function enqueueStatement(d: DeliveryRequest): [string, unknown[]] {
  const { env_id, conversion_id, dest_id, now_ms, due_ms, raw_ip, clear_user } = d;
  // The insert's values, then the conflict's.
  const params: unknown[] = [
    env_id,
    conversion_id,
    dest_id,
    raw_ip ?? null,
    clear_user ?? null,
    'pending',
    0,
    due_ms,
    now_ms,
    now_ms,
    due_ms,
    now_ms,
  ];
  // A second copy's values replace the row's; its absence keeps them.
  if (raw_ip && clear_user) return [ENQUEUE_WITH_IP_CLEAR, [...params, raw_ip, clear_user]];
  if (raw_ip) return [ENQUEUE_WITH_IP, [...params, raw_ip]];
  if (clear_user) return [ENQUEUE_WITH_CLEAR, [...params, clear_user]];
  return [ENQUEUE, params];
}

/**
 * The browsers linked to any of `n` (key type, key value) pairs: one indexed read a pair, in
 * the primary key's order, so that the cap keeps the same rows whatever the plan (as a
 * recompute's read of many, set-wise-ingest.ts). Not an OR of the pairs: with two or more,
 * SQLite's plan searched the environment's whole index for them (17.8 ms a lookup among
 * 100,000 links, against 5 µs), and every event with both an e-mail and a phone paid it
 * (ILK01). The cap is in the text: a bound LIMIT makes SQLite prepare the statement again each
 * run (literal-limits.ts).
 */
/** The keys a link read asks for, each pair once: a pair read twice gives its rows twice. */
export function distinctKeys(keys: readonly IdentityKey[]): IdentityKey[] {
  return [...new Map(keys.map((k) => [`${k.key_type}\u0000${k.key_value}`, k])).values()];
}

/** A row of a link read (LINKED_ANONYMOUS_IDS, LINKED_ANONYMOUS_IDS_MANY). */
export function linkedFromRow(r: { key_type: string; anonymous_id: string }): LinkedAnonymousId {
  return { anonymous_id: r.anonymous_id, via: r.key_type as LinkedAnonymousId['via'] };
}

export const LINKED_ANONYMOUS_IDS = textsByLength(
  (n) =>
    `${Array.from(
      { length: n },
      (_, i) =>
        `select * from (select "key_type", "anonymous_id" from "identity_links" where "env_id" = ? and "key_type" = ? and "key_value" = ? order by "anonymous_id" limit ${MAX_TOUCHES_PER_LOOKUP}) as k${i}`,
    ).join(' union all ')} limit ${MAX_TOUCHES_PER_LOOKUP}`,
);

/** Links `n` keys to a browser, or sees them again: rows of (env, type, value, id, seen). */
export const LINK_IDENTITY = textsByLength(
  (
    n,
  ) => `insert into "identity_links" ("env_id", "key_type", "key_value", "anonymous_id", "last_seen")
  values ${Array.from({ length: n }, () => placeholders(5)).join(', ')}
  on conflict ("env_id", "key_type", "key_value", "anonymous_id") do update set "last_seen" = excluded."last_seen"`,
);

// A later copy of a stored event (browser and server copies of one purchase, the setup the
// platforms recommend): read the stored copy, write the merge, read its conversions and
// their deliveries. Built by Kysely per copy these cost about 170 µs of a copy's CPU over
// SQLite's own work (issue 22, fifteenth round).

// Reads name their columns, never `*`: on PostgreSQL they run as named prepared statements,
// which fail ("cached plan must not change result type") once a migration adds a column.

/** A stored event by its key, and by its key and receipt time (a day partition). */
export const EVENT_BY_PK = `select ${quoted(EVENT_COLUMNS)} from "events" where "pk" = ?`;
export const EVENT_BY_PK_AT = `${EVENT_BY_PK} and "received_at_ms" = ?`;

/** A merged copy's new data over the stored row, which counts one more duplicate. */
export const UPDATE_DUPLICATE = `update "events" set "data" = ?, "anonymous_id" = ?, "user_id" = ?,
  "value" = ?, "currency" = ?, "duplicate_count" = "duplicate_count" + 1 where "pk" = ?`;
export const UPDATE_DUPLICATE_AT = `${UPDATE_DUPLICATE} and "received_at_ms" = ?`;

/** What an erasure under way searches again (0041). */
export const NOTE_EVENT_MERGE = `insert into "event_merges" ("merged_at_ms", "env_id", "pk")
  values (?, ?, ?) on conflict do nothing`;

/** An event's conversion rows, one a destination. */
export const CONVERSIONS_OF_EVENT = `select ${quoted(CONVERSION_COLUMNS)} from "conversions"
  where "env_id" = ? and "conversion_id" = ?`;

/** A conversion's delivery rows, oldest first. */
export const DELIVERIES_OF_CONVERSION = `select ${quoted(OUTBOX_RECORD_COLUMNS)} from "outbox"
  where "env_id" = ? and "conversion_id" = ? and "kind" = 'conversion' order by "id"`;
