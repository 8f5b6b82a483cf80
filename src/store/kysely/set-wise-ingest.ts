import type { Kysely, Selectable } from 'kysely';
import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import type { Touch, TrackedEvent } from '../../domain/event.js';
import type { TouchesTable } from '../schema.js';
import type { ConversionRows, SetWiseIngest, TouchLookup } from '../store.js';
import { chunks } from './chunks.js';
import {
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  EVENT_COLUMNS,
  ipLookupText,
  OUTBOX_INSERT_COLUMNS,
  PATH_COLUMNS,
  PATH_CONFLICT,
  TOUCH_COLUMNS,
  TOUCH_SELECT,
  touchLookupText,
} from './ingest-columns.js';
import { type IngestStatements, quoted } from './ingest-statements.js';
import { jsonParam, ROWS_PER_STATEMENT } from './json-param.js';
import { conversionToRow, eventToRow, touchFromRow } from './row-mappers.js';
import { SetWiseLinks } from './set-wise-links.js';
import type { TouchCache } from './touch-cache.js';

const JIT_OFF = `set local jit = off`;
/**
 * JIT off, and each named statement's generic plan: made once per connection, and pruned of
 * the touches' day partitions before `$2` (partitionFloor) as each run starts. A custom plan
 * is remade on every run, and PostgreSQL keeps choosing it, since a generic plan's estimate
 * counts every partition: with 90 days of them the touch lookup took 9 ms a run, planning
 * included, against 0.9 ms for the generic plan once made (157 ms, the first run on a
 * connection). Only for named statements: an unnamed one would make its generic plan anew on
 * every run.
 */
const JIT_OFF_GENERIC_PLANS = `select set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`;

/**
 * One claim per event, as in claimAndInsertEvent: a key new or older than `stale_before` is
 * taken, and only the events whose claim was won are inserted. Keys are taken in key order,
 * so two transactions claiming overlapping keys wait for each other instead of deadlocking.
 */
const CLAIM_AND_INSERT_EVENTS = `with v as (select * from json_populate_recordset(null::"events", ?::json)),
  claim as (insert into "dedup_keys" ("env_id", "event_name", "event_id", "event_pk", "first_seen")
    select "env_id", "event_name", "event_id", "pk", ? from v
    order by "env_id", "event_name", "event_id"
    on conflict ("env_id", "event_name", "event_id") do update set
    "event_pk" = excluded."event_pk", "first_seen" = excluded."first_seen"
    where "dedup_keys"."first_seen" < ? returning "event_pk"),
  ins as (insert into "events" (${quoted(EVENT_COLUMNS)})
    select ${quoted(EVENT_COLUMNS)} from v where "pk" in (select "event_pk" from claim))
  select "event_pk" from claim`;

/** The statement's second parameter: the lowest `since` of its lookups (partitionFloor). */
const FLOOR = '$2';
/**
 * Each lookup's touches as findTouches reads them: one indexed query per key (a missing key
 * matches nothing), read back key by key, newest first. With `own_first`, the address's
 * query runs only when the others find nothing: it is then all a lookup of every key finds,
 * and else a shared address's strangers' touches are left unread (issue 22).
 */
const OWN_KEYS: readonly string[] = [
  touchLookupText('l.env_id', 'l.since', '"user_id" = l.user_id', true, FLOOR),
  touchLookupText('l.env_id', 'l.since', '"anonymous_id" = any(l.anonymous_ids)', true, FLOOR),
  // An event carries the id of an impression or a click, never of a visit.
  touchLookupText('l.env_id', 'l.since', '"touch_id" = any(l.touch_ids)', false, FLOOR),
];
const IP_KEY = ipLookupText('l.env_id', 'l.since', 'l.ip_since', '"ip" = l.ip', undefined, FLOOR);
const NO_TOUCH = TOUCH_COLUMNS.map((c) => `null as "${c}"`).join(', ');
/**
 * With `by_id` (an address the TouchCache knows), the address's part gives one row a lookup:
 * its touches' ids, newest first (time, then id, desc, as rows come), in `ip_ids`, the touch
 * columns null. node-postgres makes every value of every row it receives into a JS value, and
 * a busy address's 220 rows of 15 were most of a Purchase's CPU from it (issue 22); the rows
 * are taken from the cache, and only those not read before fetched (TOUCHES_OF_IDS). An
 * address it does not know comes as rows, which fill it, in this one statement.
 */
const FIND_TOUCHES_MANY = `select l.i, t.* from json_to_recordset(?::json)
    as l(i int, env_id text, since int8, ip_since int8, user_id text, ip text,
      anonymous_ids text[], touch_ids text[], own_first boolean, by_id boolean)
  cross join lateral (with own as (${OWN_KEYS.map(
    (text, q) => `select k${q}.*, ${q} as q from (${text}) as k${q}`,
  ).join(' union all ')}),
    ip as (select * from (${IP_KEY}) as ip
      where not l.own_first or not exists (select 1 from own))
    select own.*, null::text as ip_ids from own
    union all select ip.*, ${OWN_KEYS.length} as q, null from ip where not l.by_id
    union all select ${NO_TOUCH}, ${OWN_KEYS.length} as q,
      string_agg(ip."id"::text, ',' order by ip."time" desc, ip."id" desc) from ip
      where l.by_id having count(*) > 0) t
  order by l.i, t.q, t."time" desc, t."id" desc`;

/**
 * The touches of an array of ids, in no order. Every touch an address's lookup reads is at or
 * after its `since`: the bound lets PostgreSQL skip older day partitions.
 */
const TOUCHES_OF_IDS = `${TOUCH_SELECT} from "touches" where "id" = any(?::int8[]) and "time" >= ?`;

// FLOOR is written as `$2`: the text's one `?` becomes `$1`, and a second would collide.
if (FIND_TOUCHES_MANY.split('?').length !== 2)
  throw new Error('FIND_TOUCHES_MANY must have one ? placeholder: its floor is written as $2');

/** The set-wise statements that read partitioned tables (IngestStatements.reserve). */
export const SET_WISE_PARTITIONED_READS: readonly string[] = [FIND_TOUCHES_MANY, TOUCHES_OF_IDS];

/** What recordConversion writes, for many conversions: paths, rows, then outbox rows. */
const RECORD_CONVERSIONS = `with
  p as (insert into "conversion_paths" (${quoted(PATH_COLUMNS)})
    select ${quoted(PATH_COLUMNS)} from json_populate_recordset(null::"conversion_paths", ?::json)
    ${PATH_CONFLICT}),
  c as (insert into "conversions" (${quoted(CONVERSION_COLUMNS)})
    select ${quoted(CONVERSION_COLUMNS)} from json_populate_recordset(null::"conversions", ?::json)
    ${CONVERSION_CONFLICT}),
  o as (insert into "outbox" (${quoted(OUTBOX_INSERT_COLUMNS)})
    select ${quoted(OUTBOX_INSERT_COLUMNS)} from json_populate_recordset(null::"outbox", ?::json)
    on conflict ("env_id", "conversion_id", "dest_id") do update set "status" = 'pending',
    "next_attempt_at_ms" = excluded."next_attempt_at_ms", "lease_until_ms" = null,
    "lease_owner" = null, "attempts" = 0, "first_attempt_at_ms" = null,
    "updated_at_ms" = excluded."updated_at_ms",
    "raw_ip" = coalesce(excluded."raw_ip", "outbox"."raw_ip"),
    "clear_user" = coalesce(excluded."clear_user", "outbox"."clear_user"))
  select 1`;

/**
 * The touches read before, by id (one TouchCache per store), and whether the transaction
 * wrote touches: those it read then are not added, as their rows may never commit.
 */
export interface SetWiseTouchCache {
  touches: TouchCache;
  wroteTouches(): boolean;
}

/** The set-wise ingest statements on PostgreSQL, inside one transaction. */
export class PostgresSetWiseIngest implements SetWiseIngest {
  private settingsSent = false;
  /** The transaction's identity links, read and written set-wise (bufferLinks). */
  readonly links = new SetWiseLinks((text, params) => this.run(text, params));

  constructor(
    private readonly db: Kysely<unknown>,
    private readonly statements: IngestStatements,
    private readonly cache?: SetWiseTouchCache,
  ) {}

  /**
   * Runs `text` in this transaction, after the transaction's settings: JIT off, and on named
   * statements generic plans (JIT_OFF_GENERIC_PLANS). The planner guesses 100 rows for a JSON
   * parameter, so with 90 days of touch partitions the lookup's estimate passes
   * jit_above_cost, and a prepared plan would then be compiled on every run (4.7 s for 100
   * lookups, measured; 0.2 s without). Set before the first statement, so that every plan
   * this transaction makes or caches is made with them.
   */
  private async run<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    if (!this.settingsSent) {
      await this.statements.run(
        this.db,
        this.statements.named ? JIT_OFF_GENERIC_PLANS : JIT_OFF,
        [],
      );
      this.settingsSent = true;
    }
    return this.statements.run<R>(this.db, text, params);
  }

  async claimAndInsertEvents(
    events: ReadonlyArray<{ pk: string; event: TrackedEvent }>,
    received_at_ms: number,
    stale_before: number,
  ): Promise<boolean[]> {
    if (events.length === 0) return [];
    const won = new Set<string>();
    const first_seen = Math.floor(received_at_ms / 1000);
    for (const part of chunks(events, ROWS_PER_STATEMENT)) {
      const rows = part.map(({ pk, event }) => eventToRow(pk, event, received_at_ms));
      const claimed = await this.run<{ event_pk: string }>(CLAIM_AND_INSERT_EVENTS, [
        jsonParam(rows),
        first_seen,
        stale_before,
      ]);
      for (const r of claimed) won.add(r.event_pk);
    }
    return events.map((e) => won.has(e.pk));
  }

  async findTouchesMany(lookups: readonly TouchLookup[]): Promise<Touch[][]> {
    const read = await this.findTouchesOwnFirst(
      lookups.map((lookup) => ({ lookup, own_first: false })),
    );
    return read.map((r) => r.touches);
  }

  async findTouchesOwnFirst(
    reads: ReadonlyArray<{ lookup: TouchLookup; own_first: boolean }>,
  ): Promise<Array<{ touches: Touch[]; own: boolean }>> {
    const out = reads.map(() => ({ touches: [] as Touch[], own: false }));
    if (reads.length === 0) return out;
    const seen: Array<Set<number>> = reads.map(() => new Set());
    const cache = this.cache?.touches;
    // Rows read in a transaction that wrote touches are not kept: they may never commit.
    const keep = cache && !this.cache?.wroteTouches() ? cache : undefined;
    const address = (l: TouchLookup) => `${l.env_id}\n${l.ip}`;
    for (const [c, part] of chunks(reads, ROWS_PER_STATEMENT).entries()) {
      const offset = c * ROWS_PER_STATEMENT;
      const params = part.map(({ lookup: l, own_first }, i) => ({
        i: offset + i,
        env_id: l.env_id,
        since: l.since,
        ip_since: Math.max(l.since, l.ip_since ?? l.since),
        // As findTouches: an empty key is no key.
        user_id: l.user_id || null,
        ip: l.ip || null,
        anonymous_ids: l.anonymous_ids,
        touch_ids: l.touch_ids,
        own_first,
        by_id: l.ip ? (cache?.knows(address(l)) ?? false) : false,
      }));
      const rows = await this.run<
        Selectable<TouchesTable> & { i: number; q: number; ip_ids: string | null }
      >(FIND_TOUCHES_MANY, [jsonParam(params), Math.min(...params.map((p) => p.since))]);
      // Each lookup's address ids, read last: its row sorts after the other keys' rows.
      const byIp: Array<{ i: number; ids: string }> = [];
      for (const row of rows) {
        const r = out[row.i];
        if (!r) continue;
        if (row.ip_ids !== null) {
          byIp.push({ i: row.i, ids: row.ip_ids });
          continue;
        }
        // Another key found a touch, so an own-first read left the address unread.
        if (row.q < OWN_KEYS.length && reads[row.i]?.own_first) r.own = true;
        // A touch found by two keys counts once, where the stronger key found it.
        const id = Number(row.id);
        if (seen[row.i]?.has(id)) continue;
        seen[row.i]?.add(id);
        if (row.q < OWN_KEYS.length || !keep) r.touches.push(touchFromRow(row));
        else r.touches.push(keep.get(id) ?? keep.add(id, touchFromRow(row)));
      }
      // The addresses read as rows (not left unread by an own-first read) filled the cache.
      if (keep)
        for (const p of params)
          if (p.ip && !p.by_id && !(p.own_first && out[p.i]?.own))
            keep.noteAddress(address(part[p.i - offset]?.lookup as TouchLookup));
      if (byIp.length > 0) await this.addByIp(byIp, reads, out, seen, keep);
    }
    return out;
  }

  /**
   * The touches of the address's `ids` (comma-separated, in order) appended to each lookup's,
   * but those another key found: from the cache where read before, the others in one
   * statement for all the lookups (a batch's Purchases from one address fetch a row once).
   */
  private async addByIp(
    byIp: ReadonlyArray<{ i: number; ids: string }>,
    reads: ReadonlyArray<{ lookup: TouchLookup }>,
    out: ReadonlyArray<{ touches: Touch[] }>,
    seen: ReadonlyArray<Set<number>>,
    keep: TouchCache | undefined,
  ): Promise<void> {
    const cache = this.cache?.touches;
    if (!cache) return;
    const wanted = byIp.map(({ i, ids }) =>
      cache.take(ids.split(',').map(Number), seen[i] ?? new Set()),
    );
    const missing = new Set<number>();
    let since = Number.POSITIVE_INFINITY;
    for (const [k, w] of wanted.entries()) {
      for (const id of w.missing) missing.add(id);
      const lookup = reads[byIp[k]?.i ?? -1]?.lookup;
      if (w.missing.length > 0 && lookup) since = Math.min(since, lookup.since);
    }
    const read = new Map<number, Touch>();
    if (missing.size > 0) {
      const rows = await this.run<Selectable<TouchesTable>>(TOUCHES_OF_IDS, [
        `{${[...missing].join(',')}}`,
        since,
      ]);
      for (const row of rows) {
        const touch = touchFromRow(row);
        const id = Number(row.id);
        read.set(id, keep ? keep.add(id, touch) : touch);
      }
    }
    // A row deleted between the two statements (an erasure, a purge) is left out.
    for (const [k, w] of wanted.entries()) out[byIp[k]?.i ?? -1]?.touches.push(...w.resolve(read));
  }

  findLinkedAnonymousIdsMany(
    reads: ReadonlyArray<{ env_id: string; keys: readonly IdentityKey[] }>,
  ): Promise<LinkedAnonymousId[][]> {
    return this.links.findMany(reads);
  }

  bufferLinks(
    reads: ReadonlyArray<{ env_id: string; keys: readonly IdentityKey[] }>,
  ): Promise<void> {
    return this.links.buffer(reads);
  }

  async recordConversions(all: readonly ConversionRows[]): Promise<void> {
    for (const part of chunks(all, ROWS_PER_STATEMENT)) {
      const paths = part.map(({ path: p }) => ({ ...p, touches: JSON.stringify(p.touches) }));
      const conversions = part.flatMap((r) => r.conversions.map(conversionToRow));
      const outbox = part.flatMap((r) =>
        r.deliveries.map((d) => ({
          env_id: d.env_id,
          conversion_id: d.conversion_id,
          dest_id: d.dest_id,
          raw_ip: d.raw_ip ?? null,
          clear_user: d.clear_user ?? null,
          status: 'pending',
          attempts: 0,
          next_attempt_at_ms: d.due_ms,
          created_at_ms: d.now_ms,
          updated_at_ms: d.now_ms,
        })),
      );
      await this.run(RECORD_CONVERSIONS, [
        jsonParam(paths),
        jsonParam(conversions),
        jsonParam(outbox),
      ]);
    }
  }
}
