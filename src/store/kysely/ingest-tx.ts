import type { Kysely, Selectable, Transaction } from 'kysely';
import type { IdentityKey } from '../../domain/attribution.js';
import type { Touch, TrackedEvent } from '../../domain/event.js';
import { conversionIdOf, receivedMsOfKey } from '../../domain/event-key.js';
import type { Database, TouchesTable } from '../schema.js';
import type {
  ConversionPathRecord,
  ConversionRecord,
  DeliveryRequest,
  FailedFor,
  IngestTx,
  SetWiseIngest,
  TouchLookup,
} from '../store.js';
import { findViews, type ViewRef } from './impression-views.js';
import {
  ipLookupParams,
  TOUCH_SELECT,
  TOUCH_WRITE_COLUMNS,
  touchLookupParams,
  touchRow,
} from './ingest-columns.js';
import {
  CLAIM_AND_INSERT_EVENT,
  CLAIM_DEDUP_UPSERT,
  CONVERSIONS_OF_EVENT,
  COUNT_CLICKS,
  type ConversionRow,
  checkKeyTime,
  claimParams,
  conversionStatement,
  DELIVERIES_OF_CONVERSION,
  distinctKeys,
  EVENT_BY_PK,
  EVENT_BY_PK_AT,
  type EventRow,
  enqueueStatement,
  FIND_DEDUP,
  INSERT_EVENT,
  INSERT_TOUCHES_UNNEST,
  LINK_IDENTITY,
  LINKED_ANONYMOUS_IDS,
  linkedFromRow,
  NOTE_EVENT_MERGE,
  pathStatement,
  TOUCH_IDS_BY_IP,
  TOUCHES_BY_IP,
  TOUCHES_BY_USER,
  TOUCHES_OF_IDS,
  touchQuery,
  UPDATE_DUPLICATE,
  UPDATE_DUPLICATE_AT,
} from './ingest-sql.js';
import { type IngestStatements, placeholders } from './ingest-statements.js';
import { cancelDeliveries, requeueDeliveries, setClearUser } from './late-copy-queries.js';
import { addTouchDays } from './report-queries.js';
import {
  conversionFromRow,
  eventFromRow,
  eventValues,
  outboxFromRow,
  touchFromRow,
  touchFromValues,
} from './row-mappers.js';
import { PostgresSetWiseIngest } from './set-wise-ingest.js';
import type { TouchCache } from './touch-cache.js';

/**
 * SQLite's text of the touch query for `n` values of `column`, made once: a text built per
 * event is hashed and compared whole (about 700 characters) to find its prepared statement,
 * about 2 µs of a Segment call's work (issue 22).
 */
const anyOfTexts = new Map<string, string>();
/** The longest id list whose query text is kept (2 columns × 2 × 16 texts at most). */
const MAX_CACHED_LIST = 16;
function sqliteAnyOf(column: 'anonymous_id' | 'touch_id', n: number, visits: boolean): string {
  const key = `${column} ${n} ${visits}`;
  let text = anyOfTexts.get(key);
  if (text === undefined) {
    text = touchQuery(`"${column}" in ${placeholders(n)}`, visits);
    // Bounded: lists are short (a few ids a person), a rare long one is not kept.
    if (n <= MAX_CACHED_LIST) anyOfTexts.set(key, text);
  }
  return text;
}

/** PostgreSQL's text of the touch query for a list of `column`'s values, as one array. */
function postgresAnyOf(column: 'anonymous_id' | 'touch_id', visits: boolean): string {
  return touchQuery(`"${column}" = any(?::text[])`, visits);
}

/** Per-key touch queries as one UNION ALL, read back key by key (findTouches, PostgreSQL). */
function unionOfKeys(texts: readonly string[]): string {
  const parts = texts.map((text, i) => `select k${i}.*, ${i} as q from (${text}) as k${i}`);
  return `${TOUCH_SELECT} from (${parts.join(' union all ')}) u order by q, "time" desc, "id" desc`;
}

/**
 * Every text of findTouches on PostgreSQL (each key alone, and each run of two or more in its
 * order), the reads of events by key, and the click counts: the statements of an ingest
 * transaction that read partitioned tables (IngestStatements.reserve).
 */
export function postgresPartitionedReads(): string[] {
  const keys = [
    TOUCHES_BY_USER,
    postgresAnyOf('anonymous_id', true),
    postgresAnyOf('touch_id', false),
    TOUCHES_BY_IP,
  ];
  const texts: string[] = [];
  for (let mask = 1; mask < 1 << keys.length; mask++) {
    const chosen = keys.filter((_, i) => mask & (1 << i));
    texts.push(chosen.length === 1 ? (chosen[0] as string) : unionOfKeys(chosen));
  }
  return [
    ...texts,
    COUNT_CLICKS.anonymous_id,
    COUNT_CLICKS.ip,
    EVENT_BY_PK,
    EVENT_BY_PK_AT,
    UPDATE_DUPLICATE,
    UPDATE_DUPLICATE_AT,
  ];
}

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 500;

export class KyselyIngestTx implements IngestTx {
  readonly setWise?: SetWiseIngest;
  /**
   * setWise on PostgreSQL, typed as itself: linkIdentity and findLinkedAnonymousIds go
   * through its link buffer (bufferLinks), which the port does not show.
   */
  private readonly postgres?: PostgresSetWiseIngest;
  /** Set once this transaction inserts touches: their ids are not yet committed. */
  private wroteTouches = false;

  /** For findTouches on SQLite; PostgreSQL's set-wise reads take it (findTouches does not). */
  private readonly touchCache?: TouchCache;

  /** `touchCache`: the touches read before, by id, for reads by address. */
  constructor(
    private readonly db: Transaction<Database>,
    private readonly statements: IngestStatements,
    touchCache?: TouchCache,
  ) {
    if (statements.dialect === 'postgres') {
      this.postgres = new PostgresSetWiseIngest(
        db as unknown as Kysely<unknown>,
        statements,
        touchCache && { touches: touchCache, wroteTouches: () => this.wroteTouches },
      );
      this.setWise = this.postgres;
    } else this.touchCache = touchCache;
  }

  /** Before the commit: writes what the transaction still holds (links bufferLinks kept). */
  async settle(): Promise<void> {
    await this.postgres?.links.write();
  }

  private run<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return this.statements.run<R>(this.db as unknown as Kysely<unknown>, text, params);
  }

  async insertTouches(touches: readonly Touch[]): Promise<void> {
    this.wroteTouches = true;
    if (this.statements.dialect === 'postgres') {
      // One statement of one array per column, whatever the batch size.
      const rows = touches.map(touchRow);
      const columns = TOUCH_WRITE_COLUMNS.map((c) => rows.map((t) => t[c]));
      await this.run(INSERT_TOUCHES_UNNEST, columns);
      await addTouchDays(this.db, touches);
      return;
    }
    for (let i = 0; i < touches.length; i += INSERT_CHUNK_ROWS) {
      await this.db
        .insertInto('touches')
        .values(touches.slice(i, i + INSERT_CHUNK_ROWS).map(touchRow))
        .execute();
    }
    await addTouchDays(this.db, touches);
  }

  private async findDedup(env_id: string, event_name: string, event_id: string) {
    const [row] = await this.run<{ event_pk: string; first_seen: unknown }>(FIND_DEDUP, [
      env_id,
      event_name,
      event_id,
    ]);
    return row ? { event_pk: row.event_pk, first_seen: Number(row.first_seen) } : null;
  }

  async getEvent(pk: string) {
    const ms = receivedMsOfKey(pk);
    const [row] = await this.run<EventRow>(
      ms === null ? EVENT_BY_PK : EVENT_BY_PK_AT,
      ms === null ? [pk] : [pk, ms],
    );
    return row ? eventFromRow(row) : null;
  }

  async insertEvent(pk: string, event: TrackedEvent, received_at_ms: number) {
    checkKeyTime(pk, received_at_ms);
    await this.run(INSERT_EVENT, eventValues(pk, event, received_at_ms));
  }

  async claimAndInsertEvent(
    pk: string,
    event: TrackedEvent,
    received_at_ms: number,
    stale_before: number,
  ) {
    const { env_id, event_name, event_id } = event;
    const first_seen = Math.floor(received_at_ms / 1000);
    if (this.statements.dialect !== 'postgres') {
      const holder = await this.claimDedup(
        env_id,
        event_name,
        event_id,
        pk,
        first_seen,
        stale_before,
      );
      if (holder === null) await this.insertEvent(pk, event, received_at_ms);
      return holder;
    }
    checkKeyTime(pk, received_at_ms);
    const [claim] = await this.run<{ won: unknown }>(CLAIM_AND_INSERT_EVENT, [
      ...claimParams(env_id, event_name, event_id, pk, first_seen, stale_before),
      ...eventValues(pk, event, received_at_ms),
    ]);
    if (Number(claim?.won) > 0) return null;
    const holder = (await this.findDedup(env_id, event_name, event_id))?.event_pk ?? null;
    if (holder === null) await this.insertEvent(pk, event, received_at_ms);
    return holder;
  }

  private async claimDedup(
    env_id: string,
    event_name: string,
    event_id: string,
    event_pk: string,
    first_seen: number,
    stale_before: number,
  ) {
    const won = await this.statements.changes(
      this.db as unknown as Kysely<unknown>,
      CLAIM_DEDUP_UPSERT,
      claimParams(env_id, event_name, event_id, event_pk, first_seen, stale_before),
    );
    if (won > 0) return null;
    return (await this.findDedup(env_id, event_name, event_id))?.event_pk ?? null;
  }

  async updateDuplicate(pk: string, merged: TrackedEvent, changed_at_ms?: number) {
    const ms = receivedMsOfKey(pk);
    const set = [
      JSON.stringify(merged),
      merged.user.anonymous_id ?? null,
      merged.user.user_id ?? null,
      merged.properties.value ?? null,
      merged.properties.currency ?? null,
      pk,
    ];
    if (ms === null) await this.run(UPDATE_DUPLICATE, set);
    else await this.run(UPDATE_DUPLICATE_AT, [...set, ms]);
    if (changed_at_ms !== undefined)
      await this.run(NOTE_EVENT_MERGE, [changed_at_ms, merged.env_id, pk]);
  }

  async linkIdentity(
    env_id: string,
    links: readonly IdentityKey[],
    anonymous_id: string,
    seen: number,
  ) {
    if (links.length === 0 || this.postgres?.links.note(env_id, links, anonymous_id, seen)) return;
    await this.run(
      LINK_IDENTITY(links.length),
      links.flatMap((l) => [env_id, l.key_type, l.key_value, anonymous_id, seen]),
    );
  }

  async findLinkedAnonymousIds(env_id: string, keys: readonly IdentityKey[]) {
    const pairs = distinctKeys(keys);
    if (pairs.length === 0) return [];
    if (this.postgres) {
      const known = this.postgres.links.answer(env_id, pairs);
      if (known) return known;
      await this.postgres.links.write();
    }
    const rows = await this.run<{ key_type: string; anonymous_id: string }>(
      LINKED_ANONYMOUS_IDS(pairs.length),
      pairs.flatMap((k) => [env_id, k.key_type, k.key_value]),
    );
    return rows.map(linkedFromRow);
  }

  async findTouches(l: TouchLookup): Promise<Touch[]> {
    const queries: Array<[string, unknown[]]> = [];
    const base = [l.env_id, l.since];
    if (l.user_id) queries.push([TOUCHES_BY_USER, touchLookupParams(base, [l.user_id], true)]);
    if (l.anonymous_ids.length > 0)
      queries.push(this.anyOf('anonymous_id', base, l.anonymous_ids, true));
    // An event carries the id of an impression or a click, never of a visit.
    if (l.touch_ids.length > 0) queries.push(this.anyOf('touch_id', base, l.touch_ids, false));
    const byIp = l.ip
      ? ipLookupParams(l.env_id, l.since, Math.max(l.since, l.ip_since ?? l.since), l.ip)
      : null;
    // With a touch cache (SQLite) the address's touches are read after the loop, still last.
    if (byIp && !this.touchCache) queries.push([TOUCHES_BY_IP, byIp]);
    const seen = new Set<number>();
    const out: Touch[] = [];
    for (const [text, params] of this.oneRoundTrip(queries)) {
      const arrays = this.statements.arrays(text, params);
      if (arrays) {
        for (const values of arrays) {
          const id = Number(values[0]); // TOUCH_COLUMNS start with the id
          if (seen.has(id)) continue;
          seen.add(id);
          out.push(touchFromValues(values));
        }
        continue;
      }
      for (const row of await this.run<Selectable<TouchesTable>>(text, params)) {
        if (seen.has(Number(row.id))) continue;
        seen.add(Number(row.id));
        out.push(touchFromRow(row));
      }
    }
    if (byIp && this.touchCache)
      this.cachedTouches(this.touchCache, byIp, `${l.env_id}\n${l.ip}`, seen, out);
    return out;
  }

  /**
   * TOUCHES_BY_IP through `cache`: the ids alone, then the rows of those not read before, in
   * one statement. A busy address's Purchases read the same newest touches again and again.
   * An address `cache` does not know yet has its rows read at once, as without the cache.
   */
  private cachedTouches(
    cache: TouchCache,
    params: unknown[],
    address: string,
    seen: Set<number>,
    out: Touch[],
  ) {
    if (!cache.knows(address)) {
      for (const values of this.statements.arrays(TOUCHES_BY_IP, params) ?? []) {
        const id = Number(values[0]);
        if (seen.has(id)) continue;
        seen.add(id);
        const kept = cache.get(id);
        if (kept) out.push(kept);
        else if (this.wroteTouches) out.push(touchFromValues(values));
        else out.push(cache.add(id, touchFromValues(values)));
      }
      if (!this.wroteTouches) cache.noteAddress(address);
      return;
    }
    const ids = (this.statements.column(TOUCH_IDS_BY_IP, params) ?? []).map(Number);
    const { missing, resolve } = cache.take(ids, seen);
    const read = new Map<number, Touch>();
    if (missing.length > 0) {
      const rows = this.statements.arrays(TOUCHES_OF_IDS, [JSON.stringify(missing)]) ?? [];
      for (const values of rows) {
        const id = Number(values[0]);
        const touch = touchFromValues(values);
        read.set(id, this.wroteTouches ? touch : cache.add(id, touch));
      }
    }
    for (const touch of resolve(read)) out.push(touch);
  }

  /**
   * The touches whose `column` is one of `values`. PostgreSQL takes the list as one array
   * parameter, so the text stays the same (and prepared) whatever the list's length.
   */
  private anyOf(
    column: 'anonymous_id' | 'touch_id',
    base: unknown[],
    values: readonly string[],
    visits: boolean,
  ): [string, unknown[]] {
    if (this.statements.dialect === 'postgres')
      return [postgresAnyOf(column, visits), touchLookupParams(base, [[...values]], visits)];
    return [sqliteAnyOf(column, values.length, visits), touchLookupParams(base, values, visits)];
  }

  /**
   * On PostgreSQL the per-key touch queries go as one UNION ALL, each part still on its own
   * index, read back in the order the separate queries would give (key by key, newest first).
   */
  private oneRoundTrip(queries: Array<[string, unknown[]]>): Array<[string, unknown[]]> {
    if (this.statements.dialect !== 'postgres' || queries.length < 2) return queries;
    return [[unionOfKeys(queries.map(([text]) => text)), queries.flatMap(([, p]) => p)]];
  }

  impressionViews(env_id: string, refs: readonly ViewRef[]) {
    return findViews(this.db, env_id, refs);
  }

  async countClicks(
    env_id: string,
    by: 'anonymous_id' | 'ip',
    value: string,
    from: number,
    to: number,
    cap: number,
  ): Promise<number> {
    const [row] = await this.run<{ n: number | string }>(COUNT_CLICKS[by], [
      env_id,
      value,
      from,
      to,
      cap,
    ]);
    return Number(row?.n ?? 0);
  }

  async conversionsOfEvent(env_id: string, event_pk: string) {
    const rows = await this.run<ConversionRow>(CONVERSIONS_OF_EVENT, [
      env_id,
      conversionIdOf(event_pk),
    ]);
    return rows.map(conversionFromRow);
  }

  async deliveriesOfConversion(env_id: string, conversion_id: string) {
    const rows = await this.run<Parameters<typeof outboxFromRow>[0]>(DELIVERIES_OF_CONVERSION, [
      env_id,
      conversion_id,
    ]);
    return rows.map(outboxFromRow);
  }

  requeueDeliveries(
    ids: readonly number[],
    due_ms: number,
    now_ms: number,
    raw_ip?: string,
    clear_user?: string,
  ) {
    return requeueDeliveries(this.db, ids, due_ms, now_ms, raw_ip, clear_user);
  }

  setClearUser(id: number, clear_user: string) {
    return setClearUser(this.db, id, clear_user);
  }

  cancelDeliveries(ids: readonly number[], failed_for: FailedFor, reason: string, now_ms: number) {
    return cancelDeliveries(this.db, ids, failed_for, reason, now_ms);
  }

  async putConversion(c: ConversionRecord) {
    const [text, params] = conversionStatement(c);
    await this.run(text, params);
  }

  async putConversionPath(p: ConversionPathRecord) {
    const [text, params] = pathStatement(p);
    await this.run(text, params);
  }

  async enqueueDelivery(
    env_id: string,
    conversion_id: string,
    dest_id: string,
    now_ms: number,
    due_ms = now_ms,
    raw_ip?: string,
    clear_user?: string,
  ) {
    const [text, params] = enqueueStatement({
      env_id,
      conversion_id,
      dest_id,
      now_ms,
      due_ms,
      ...(raw_ip ? { raw_ip } : {}),
      ...(clear_user ? { clear_user } : {}),
    });
    await this.run(text, params);
  }

  async recordConversion(
    path: ConversionPathRecord,
    conversions: readonly ConversionRecord[],
    deliveries: readonly DeliveryRequest[],
  ) {
    const statements: Array<[string, unknown[]]> = [pathStatement(path)];
    for (const c of conversions) statements.push(conversionStatement(c));
    for (const d of deliveries) statements.push(enqueueStatement(d));
    if (this.statements.dialect === 'postgres') {
      // Data-modifying CTEs: every insert runs, in one round trip.
      const text = `with ${statements.map(([t], i) => `w${i} as (${t})`).join(', ')} select 1`;
      await this.run(
        text,
        statements.flatMap(([, p]) => p),
      );
      return;
    }
    for (const [text, params] of statements) await this.run(text, params);
  }
}
