import { type Kysely, Migrator, type Selectable, sql, type Transaction } from 'kysely';
import type { LinkedAnonymousId } from '../domain/attribution.js';
import { parseClearUser } from '../domain/customer-info.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { receivedMsOfKey } from '../domain/event-key.js';
import type { FxRate } from '../domain/fx-rates.js';
import type { TriggerRule } from '../domain/trigger-rules.js';
import type { ReportQuery } from '../reports/report.js';
import { emptyEndedSyncJobs, holdClaims } from './audience-sync-jobs.js';
import { chunks } from './chunks.js';
import { eventTrail, healthCounts, listEvents } from './debug-queries.js';
import { bumpDefinitionVersion, definitionVersion } from './definition-versions.js';
import { deleteFxRate, listFxRates, putFxRates } from './fx-rate-queries.js';
import { importedKeys, purgeImportKeys, rememberImported } from './import-ledger-queries.js';
import {
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  EVENT_COLUMNS,
  MAX_TOUCHES_PER_LOOKUP,
  OUTBOX_INSERT_COLUMNS,
  PATH_COLUMNS,
  PATH_CONFLICT,
  TOUCH_SELECT,
  TOUCH_WRITE_COLUMNS,
  touchLookupText,
} from './ingest-columns.js';
import { IngestStatements, insertText, placeholders } from './ingest-statements.js';
import { KyselyAudienceStore } from './kysely-audience-store.js';
import {
  cancelDeliveries,
  deliveriesOfConversion,
  requeueDeliveries,
  setClearUser,
} from './late-copy-queries.js';
import { type Dialect, migrationProvider } from './migrations.js';
import { dropBefore, ensureDays, PARTITIONED, upcomingDays } from './postgres/partitions.js';
import type { PreparedTexts } from './postgres/prepared-statements.js';
import { PostgresSetWiseIngest } from './postgres/set-wise-ingest.js';
import { addTouchDays, campaignCosts, reportCounts, setCampaignCost } from './report-queries.js';
import {
  attemptFromRow,
  conversionFromRow,
  conversionToRow,
  eventFromRow,
  eventToRow,
  outboxFromRow,
  touchFromRow,
} from './row-mappers.js';
import type { ConversionsTable, Database, EventsTable, TouchesTable } from './schema.js';
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimedJob,
  ConversionPathRecord,
  ConversionRecord,
  DeliveryRequest,
  Erasure,
  ErasureRemovals,
  EventFilter,
  FailedFor,
  FxRateFilter,
  ImportKey,
  IngestTx,
  ListFilter,
  OutboxUpdate,
  PurgeCutoffs,
  PurgeReport,
  SetWiseIngest,
  Store,
  StoreCounts,
  StoredDestinationRow,
  SubjectData,
  SubjectKeys,
  TouchLookup,
} from './store.js';
import { eraseSubject, findSubject } from './subject-queries.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 500;
/** Keys per `IN (…)` list when loading claimed rows. */
const LOAD_CHUNK = 500;
/**
 * Runs of one ingest transaction that PostgreSQL aborted for a deadlock or a serialization
 * failure (a concurrent transaction wins; running again then usually commits).
 */
const INGEST_ATTEMPTS = 4;
/** SQLSTATE of a serialization failure and of a deadlock. */
const CONFLICT_CODES = new Set(['40001', '40P01']);

function isTransactionConflict(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFLICT_CODES.has(code);
}

type ConversionRow = Selectable<ConversionsTable>;
type EventRow = Selectable<EventsTable>;

const INSERT_EVENT = insertText('events', EVENT_COLUMNS);

const CLAIM_DEDUP = `${insertText('dedup_keys', ['env_id', 'event_name', 'event_id', 'event_pk', 'first_seen'])}
  on conflict ("env_id", "event_name", "event_id") do update set "event_pk" = ?, "first_seen" = ?
  where "dedup_keys"."first_seen" < ? returning "event_pk"`;
// `ins` runs only when `claim` returned its row: a lost claim inserts no event.
const CLAIM_AND_INSERT_EVENT = `with claim as (${CLAIM_DEDUP}),
  ins as (insert into "events" (${EVENT_COLUMNS.map((c) => `"${c}"`).join(', ')})
    select ${EVENT_COLUMNS.map(() => '?').join(', ')} where exists (select 1 from claim))
  select count(*) as won from claim`;
const FIND_DEDUP = `select "event_pk", "first_seen" from "dedup_keys"
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
const INSERT_TOUCHES_UNNEST = `insert into "touches" (${TOUCH_WRITE_COLUMNS.map((c) => `"${c}"`).join(', ')})
  select * from unnest(${TOUCH_WRITE_COLUMNS.map((c) => `?::${c === 'time' ? 'bigint' : 'text'}[]`).join(', ')})`;

/** One indexed touch query per key, so each uses its own (env_id, key, time) index. */
function touchQuery(where: string): string {
  return touchLookupText('?', '?', where);
}
const TOUCHES_BY_USER = touchQuery('"user_id" = ?');
const TOUCHES_BY_IP = touchQuery('"ip" = ?');

/** Reads by key look in the partition of the time the key carries. */
function checkKeyTime(pk: string, received_at_ms: number): void {
  const keyed = receivedMsOfKey(pk);
  if (keyed !== null && keyed !== received_at_ms)
    throw new Error(`event key ${pk} carries ${keyed}, not its receive time ${received_at_ms}`);
}

function claimParams(
  env_id: string,
  event_name: string,
  event_id: string,
  event_pk: string,
  first_seen: number,
  stale_before: number,
): unknown[] {
  return [env_id, event_name, event_id, event_pk, first_seen, event_pk, first_seen, stale_before];
}

class KyselyIngestTx implements IngestTx {
  readonly setWise?: SetWiseIngest;

  constructor(
    private readonly db: Transaction<Database>,
    private readonly statements: IngestStatements,
  ) {
    if (statements.dialect === 'postgres')
      this.setWise = new PostgresSetWiseIngest(db as unknown as Kysely<unknown>, statements);
  }

  private run<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return this.statements.run<R>(this.db as unknown as Kysely<unknown>, text, params);
  }

  async insertTouches(touches: readonly Touch[]): Promise<void> {
    if (this.statements.dialect === 'postgres') {
      // One statement of one array per column, whatever the batch size.
      const columns = TOUCH_WRITE_COLUMNS.map((c) => touches.map((t) => t[c] ?? null));
      await this.run(INSERT_TOUCHES_UNNEST, columns);
      await addTouchDays(this.db, touches);
      return;
    }
    for (let i = 0; i < touches.length; i += INSERT_CHUNK_ROWS) {
      await this.db
        .insertInto('touches')
        .values(touches.slice(i, i + INSERT_CHUNK_ROWS))
        .execute();
    }
    await addTouchDays(this.db, touches);
  }

  async findDedup(env_id: string, event_name: string, event_id: string) {
    const [row] = await this.run<{ event_pk: string; first_seen: unknown }>(FIND_DEDUP, [
      env_id,
      event_name,
      event_id,
    ]);
    return row ? { event_pk: row.event_pk, first_seen: Number(row.first_seen) } : null;
  }

  async getEvent(pk: string) {
    const ms = receivedMsOfKey(pk);
    let q = this.db.selectFrom('events').selectAll().where('pk', '=', pk);
    if (ms !== null) q = q.where('received_at_ms', '=', ms);
    const row = await q.executeTakeFirst();
    return row ? eventFromRow(row) : null;
  }

  async insertEvent(pk: string, event: TrackedEvent, received_at_ms: number) {
    checkKeyTime(pk, received_at_ms);
    const row = eventToRow(pk, event, received_at_ms);
    await this.run(
      INSERT_EVENT,
      EVENT_COLUMNS.map((c) => row[c]),
    );
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
    const row = eventToRow(pk, event, received_at_ms);
    const [claim] = await this.run<{ won: unknown }>(CLAIM_AND_INSERT_EVENT, [
      ...claimParams(env_id, event_name, event_id, pk, first_seen, stale_before),
      ...EVENT_COLUMNS.map((c) => row[c]),
    ]);
    if (Number(claim?.won) > 0) return null;
    const holder = (await this.findDedup(env_id, event_name, event_id))?.event_pk ?? null;
    if (holder === null) await this.insertEvent(pk, event, received_at_ms);
    return holder;
  }

  async claimDedup(
    env_id: string,
    event_name: string,
    event_id: string,
    event_pk: string,
    first_seen: number,
    stale_before: number,
  ) {
    const [won] = await this.run(
      CLAIM_DEDUP,
      claimParams(env_id, event_name, event_id, event_pk, first_seen, stale_before),
    );
    if (won) return null;
    return (await this.findDedup(env_id, event_name, event_id))?.event_pk ?? null;
  }

  async updateDuplicate(pk: string, merged: TrackedEvent) {
    const ms = receivedMsOfKey(pk);
    await this.db
      .updateTable('events')
      .set((eb) => ({
        data: JSON.stringify(merged),
        anonymous_id: merged.user.anonymous_id ?? null,
        user_id: merged.user.user_id ?? null,
        value: merged.properties.value ?? null,
        currency: merged.properties.currency ?? null,
        duplicate_count: eb('duplicate_count', '+', 1),
      }))
      .where('pk', '=', pk)
      .$if(ms !== null, (q) => q.where('received_at_ms', '=', ms as number))
      .execute();
  }

  async linkIdentity(
    env_id: string,
    links: ReadonlyArray<{ key_type: string; key_value: string }>,
    anonymous_id: string,
    seen: number,
  ) {
    if (links.length === 0) return;
    await this.db
      .insertInto('identity_links')
      .values(
        links.map((l) => ({
          env_id,
          key_type: l.key_type,
          key_value: l.key_value,
          anonymous_id,
          last_seen: seen,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['env_id', 'key_type', 'key_value', 'anonymous_id'])
          .doUpdateSet({ last_seen: seen }),
      )
      .execute();
  }

  async findLinkedAnonymousIds(
    env_id: string,
    keys: ReadonlyArray<{ key_type: LinkedAnonymousId['via']; key_value: string }>,
  ) {
    if (keys.length === 0) return [];
    const rows = await this.db
      .selectFrom('identity_links')
      .select(['key_type', 'anonymous_id'])
      .where('env_id', '=', env_id)
      .where((eb) =>
        eb.or(
          keys.map((k) =>
            eb.and([eb('key_type', '=', k.key_type), eb('key_value', '=', k.key_value)]),
          ),
        ),
      )
      .limit(MAX_TOUCHES_PER_LOOKUP)
      .execute();
    return rows.map((r) => ({
      anonymous_id: r.anonymous_id,
      via: r.key_type as LinkedAnonymousId['via'],
    }));
  }

  async findTouches(l: TouchLookup): Promise<Touch[]> {
    const queries: Array<[string, unknown[]]> = [];
    const base = [l.env_id, l.since];
    if (l.user_id) queries.push([TOUCHES_BY_USER, [...base, l.user_id]]);
    if (l.anonymous_ids.length > 0) queries.push(this.anyOf('anonymous_id', base, l.anonymous_ids));
    if (l.touch_ids.length > 0) queries.push(this.anyOf('touch_id', base, l.touch_ids));
    if (l.ip) queries.push([TOUCHES_BY_IP, [...base, l.ip]]);
    const seen = new Set<number>();
    const out: Touch[] = [];
    for (const [text, params] of this.oneRoundTrip(queries)) {
      for (const row of await this.run<Selectable<TouchesTable>>(text, params)) {
        if (seen.has(Number(row.id))) continue;
        seen.add(Number(row.id));
        out.push(touchFromRow(row));
      }
    }
    return out;
  }

  /**
   * The touches whose `column` is one of `values`. PostgreSQL takes the list as one array
   * parameter, so the text stays the same (and prepared) whatever the list's length.
   */
  private anyOf(
    column: 'anonymous_id' | 'touch_id',
    base: unknown[],
    values: readonly string[],
  ): [string, unknown[]] {
    if (this.statements.dialect === 'postgres')
      return [touchQuery(`"${column}" = any(?::text[])`), [...base, [...values]]];
    return [touchQuery(`"${column}" in ${placeholders(values.length)}`), [...base, ...values]];
  }

  /**
   * On PostgreSQL the per-key touch queries go as one UNION ALL, each part still on its own
   * index, read back in the order the separate queries would give (key by key, newest first).
   */
  private oneRoundTrip(queries: Array<[string, unknown[]]>): Array<[string, unknown[]]> {
    if (this.statements.dialect !== 'postgres' || queries.length < 2) return queries;
    const parts = queries.map(
      ([text], i) => `(${text.replace(TOUCH_SELECT, `${TOUCH_SELECT}, ${i} as q`)})`,
    );
    return [
      [
        `${TOUCH_SELECT} from (${parts.join(' union all ')}) u order by q, "time" desc, "id" desc`,
        queries.flatMap(([, p]) => p),
      ],
    ];
  }

  async conversionsOfEvent(event_pk: string) {
    const rows = await this.db
      .selectFrom('conversions')
      .selectAll()
      .where('event_pk', '=', event_pk)
      .execute();
    return rows.map(conversionFromRow);
  }

  deliveriesOfConversion(env_id: string, conversion_id: string) {
    return deliveriesOfConversion(this.db, env_id, conversion_id);
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

function pathStatement(p: ConversionPathRecord): [string, unknown[]] {
  return [PUT_PATH, PATH_COLUMNS.map((k) => (k === 'touches' ? JSON.stringify(p.touches) : p[k]))];
}

function conversionStatement(c: ConversionRecord): [string, unknown[]] {
  const row = conversionToRow(c);
  return [PUT_CONVERSION, CONVERSION_COLUMNS.map((k) => row[k])];
}

/** The stored event as its platform gets it: with the raw IP and clear values of its row. */
function withRideAlong(
  stored: TrackedEvent,
  row: { raw_ip: string | null; clear_user: string | null },
): TrackedEvent {
  const clear = parseClearUser(row.clear_user);
  const user = row.raw_ip ? { ...stored.user, ip: row.raw_ip } : stored.user;
  return { ...stored, user, ...(clear ? { clear_user: clear } : {}) };
}

function enqueueStatement(d: DeliveryRequest): [string, unknown[]] {
  const { env_id, conversion_id, dest_id, now_ms, due_ms, raw_ip, clear_user } = d;
  const params = [
    ...[env_id, conversion_id, dest_id, raw_ip ?? null, clear_user ?? null, 'pending', 0],
    ...[due_ms, now_ms, now_ms, due_ms, now_ms],
  ];
  // A second copy's values replace the row's; its absence keeps them.
  if (raw_ip && clear_user) return [ENQUEUE_WITH_IP_CLEAR, [...params, raw_ip, clear_user]];
  if (raw_ip) return [ENQUEUE_WITH_IP, [...params, raw_ip]];
  if (clear_user) return [ENQUEUE_WITH_CLEAR, [...params, clear_user]];
  return [ENQUEUE, params];
}

async function enqueue(
  db: Kysely<Database>,
  env_id: string,
  conversion_id: string,
  dest_id: string,
  now_ms: number,
  due_ms = now_ms,
  raw_ip?: string,
) {
  await db
    .insertInto('outbox')
    .values({
      env_id,
      conversion_id,
      dest_id,
      raw_ip: raw_ip ?? null,
      status: 'pending',
      attempts: 0,
      next_attempt_at_ms: due_ms,
      created_at_ms: now_ms,
      updated_at_ms: now_ms,
    })
    .onConflict((oc) =>
      oc.columns(['env_id', 'conversion_id', 'dest_id']).doUpdateSet({
        status: 'pending',
        next_attempt_at_ms: due_ms,
        lease_until_ms: null,
        lease_owner: null,
        attempts: 0,
        first_attempt_at_ms: null,
        updated_at_ms: now_ms,
        ...(raw_ip ? { raw_ip } : {}),
      }),
    )
    .execute();
}

/**
 * The Store over Kysely. SQLite and PostgreSQL share every query but the claim, which
 * PostgreSQL does with `FOR UPDATE SKIP LOCKED` so concurrent workers never take one row twice.
 */
export class KyselyStore extends KyselyAudienceStore implements Store {
  constructor(
    override readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly touchWriter?: {
      write(t: readonly Touch[]): Promise<void>;
      close(): Promise<void>;
    },
    prepared?: PreparedTexts,
  ) {
    super(db, dialect);
    this.statements = new IngestStatements(dialect, prepared);
  }

  private readonly statements: IngestStatements;

  insertTouches(touches: readonly Touch[]): Promise<void> {
    if (touches.length === 0) return Promise.resolve();
    if (this.touchWriter) return this.touchWriter.write(touches);
    return this.ingest((tx) => tx.insertTouches(touches));
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.dialect),
      // Migrations written on parallel branches may land in any order.
      allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`);
    }
    await this.ensurePartitions(Date.now());
  }

  async ensurePartitions(now_ms: number): Promise<void> {
    if (this.dialect !== 'postgres') return;
    for (const t of PARTITIONED) await ensureDays(this.db, t, upcomingDays(now_ms));
  }

  async close(): Promise<void> {
    await this.touchWriter?.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db
          .transaction()
          .execute((trx) => fn(new KyselyIngestTx(trx, this.statements)));
      } catch (e) {
        if (attempt >= INGEST_ATTEMPTS || !isTransactionConflict(e)) throw e;
      }
    }
  }

  /**
   * Leases due rows of one kind, in id order. Per destination and kind, rows go out in id
   * order: a row waits while an older row of its lane is backing off or in flight
   * (head-of-line, bounded by the retry budget).
   */
  private claimRows(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<Selectable<Database['outbox']>[]> {
    return this.db.transaction().execute(async (trx) => {
      // Claims are serialised across processes, so that two workers never both see a
      // destination's head row as free and send its rows side by side, out of order.
      await holdClaims(trx, this.dialect);
      const heads = await trx
        .selectFrom('outbox')
        .select(['env_id', 'dest_id', (eb) => eb.fn.min('id').as('first')])
        .where('status', '=', 'pending')
        .where('kind', '=', kind)
        .where((eb) =>
          eb.or([eb('next_attempt_at_ms', '>', now_ms), eb('lease_until_ms', '>=', now_ms)]),
        )
        .groupBy(['env_id', 'dest_id'])
        .execute();
      let q = trx
        .selectFrom('outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at_ms', '<=', now_ms)
        .where('kind', '=', kind)
        .where((eb) => eb.or([eb('lease_until_ms', 'is', null), eb('lease_until_ms', '<', now_ms)]))
        .orderBy('id')
        .limit(limit);
      if (paused.size > 0) {
        q = q.where(sql<string>`env_id || '/' || dest_id`, 'not in', [...paused]);
      }
      for (const h of heads) {
        q = q.where((eb) =>
          eb.not(
            eb.and([
              eb('env_id', '=', h.env_id),
              eb('dest_id', '=', h.dest_id),
              eb('id', '>', Number(h.first)),
            ]),
          ),
        );
      }
      if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const ids = (await q.execute()).map((r) => Number(r.id));
      if (ids.length === 0) return [];
      return trx
        .updateTable('outbox')
        .set({ lease_until_ms: now_ms + lease_ms, lease_owner: owner, updated_at_ms: now_ms })
        .where('id', 'in', ids)
        .returningAll()
        .execute();
    });
  }

  async claimJobs(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedJob[]> {
    const rows = await this.claimRows(kind, now_ms, limit, lease_ms, owner, paused);
    return rows
      .map((r) => ({ outbox: outboxFromRow(r), payload: JSON.parse(r.payload ?? 'null') }))
      .sort((a, b) => a.outbox.id - b.outbox.id);
  }

  async claimDeliveries(
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedDelivery[]> {
    const claimed = await this.claimRows('conversion', now_ms, limit, lease_ms, owner, paused);
    if (claimed.length === 0) return [];
    // Two set-wise reads instead of two per row: on PostgreSQL each is a round trip, and a
    // round of hundreds of rows must not spend its lease before the first send.
    const convs = new Map<string, ConversionRow>();
    const events = new Map<string, EventRow>();
    for (const part of chunks(claimed, LOAD_CHUNK)) {
      const rows = await this.db
        .selectFrom('conversions')
        .selectAll()
        .where('env_id', 'in', [...new Set(part.map((r) => r.env_id))])
        .where('conversion_id', 'in', [...new Set(part.map((r) => r.conversion_id))])
        .execute();
      for (const c of rows) convs.set(`${c.env_id}\u0000${c.conversion_id}\u0000${c.dest_id}`, c);
    }
    const pks = [...new Set([...convs.values()].map((c) => c.event_pk))];
    for (const part of chunks(pks, LOAD_CHUNK)) {
      const times = part.map(receivedMsOfKey);
      const rows = await this.db
        .selectFrom('events')
        .selectAll()
        .where('pk', 'in', part)
        // Names the partitions to read when every key carries its day (all new keys do).
        .$if(!times.includes(null), (q) =>
          q.where('received_at_ms', 'in', [...new Set(times as number[])]),
        )
        .execute();
      for (const e of rows) events.set(e.pk, e);
    }
    const out: ClaimedDelivery[] = [];
    for (const row of claimed) {
      const conv = convs.get(`${row.env_id}\u0000${row.conversion_id}\u0000${row.dest_id}`);
      const event = conv ? events.get(conv.event_pk) : undefined;
      if (conv && event) {
        const stored = eventFromRow(event).event;
        out.push({
          outbox: outboxFromRow(row),
          conversion: conversionFromRow(conv),
          event: withRideAlong(stored, row),
        });
      }
    }
    return out.sort((a, b) => a.outbox.id - b.outbox.id);
  }

  async extendLeases(owner: string, ids: readonly number[], until_ms: number): Promise<number[]> {
    const held: number[] = [];
    for (const part of chunks(ids, LOAD_CHUNK)) {
      const rows = await this.db
        .updateTable('outbox')
        .set({ lease_until_ms: until_ms })
        .where('lease_owner', '=', owner)
        .where('status', '=', 'pending')
        .where('id', 'in', [...part])
        .returning('id')
        .execute();
      for (const r of rows) held.push(Number(r.id));
    }
    return held;
  }

  async finishAttempts(
    entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('delivery_attempts')
        .values(entries.map((e) => e.attempt))
        .execute();
      for (const { attempt: a, update } of entries) {
        await trx
          .updateTable('outbox')
          .set((eb) => ({
            status: update.status,
            attempts: eb('attempts', '+', 1),
            first_attempt_at_ms: eb.fn.coalesce('first_attempt_at_ms', eb.val(a.at_ms)),
            next_attempt_at_ms:
              update.status === 'pending'
                ? update.next_attempt_at_ms
                : eb.ref('next_attempt_at_ms'),
            lease_until_ms: null,
            lease_owner: null,
            last_status: a.status_code,
            last_error: a.error,
            updated_at_ms: a.at_ms + a.duration_ms,
            delivered_at_ms: update.status === 'delivered' ? a.at_ms + a.duration_ms : null,
            // The raw IP lives only as long as the delivery that needs it.
            raw_ip: update.status === 'pending' ? eb.ref('raw_ip') : null,
            clear_user: update.status === 'pending' ? eb.ref('clear_user') : null,
            failed_for: update.status === 'failed' ? (update.failed_for ?? null) : null,
            payload:
              update.status === 'delivered' && update.payload !== undefined
                ? update.payload
                : eb.ref('payload'),
          }))
          .where('id', '=', a.outbox_id)
          .execute();
      }
    });
  }

  async leaseOwners(now_ms: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select('lease_owner')
      .distinct()
      .where('lease_until_ms', '>=', now_ms)
      .where('lease_owner', 'is not', null)
      .execute();
    return rows.map((r) => r.lease_owner as string);
  }

  async releaseLeases(owners: readonly string[]): Promise<number> {
    if (owners.length === 0) return 0;
    const r = await this.db
      .updateTable('outbox')
      .set({ lease_until_ms: null, lease_owner: null })
      .where('lease_owner', 'in', [...owners])
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async nextDueAt(): Promise<number | null> {
    const row = await this.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.min('next_attempt_at_ms').as('at'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  async eventSourcesSince(since_ms: number) {
    const rows = await this.db
      .selectFrom('events')
      .select(['env_id', 'event_name', 'source'])
      .select((eb) => eb.fn.max('received_at_ms').as('last_ms'))
      .where('received_at_ms', '>=', since_ms)
      .groupBy(['env_id', 'event_name', 'source'])
      .execute();
    return rows.map((r) => ({ ...r, last_ms: Number(r.last_ms) }));
  }

  async pausedDestinations() {
    return this.db
      .selectFrom('destination_state')
      .select(['env_id', 'dest_id', 'reason'])
      .where('paused', '=', 1)
      .execute();
  }

  async setDestinationPaused(
    env_id: string,
    dest_id: string,
    paused: boolean,
    reason: string | null,
    now_ms: number,
  ) {
    await this.db
      .insertInto('destination_state')
      .values({ env_id, dest_id, paused: paused ? 1 : 0, reason, updated_at_ms: now_ms })
      .onConflict((oc) =>
        oc
          .columns(['env_id', 'dest_id'])
          .doUpdateSet({ paused: paused ? 1 : 0, reason, updated_at_ms: now_ms }),
      )
      .execute();
  }

  async storedDestinations(): Promise<StoredDestinationRow[]> {
    const rows = await this.db
      .selectFrom('stored_destinations')
      .selectAll()
      .orderBy('created_at_ms')
      .orderBy('dest_id')
      .execute();
    return rows.map((r) => ({
      env_id: r.env_id,
      dest_id: r.dest_id,
      config: r.config === null ? null : (JSON.parse(r.config) as Record<string, unknown>),
      created_at_ms: Number(r.created_at_ms),
      updated_at_ms: Number(r.updated_at_ms),
    }));
  }

  async resealStoredDestination(row: StoredDestinationRow, config: Record<string, unknown>) {
    if (row.config === null) return false;
    const before = JSON.stringify(row.config);
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .updateTable('stored_destinations')
        .set({ config: JSON.stringify(config) })
        .where('env_id', '=', row.env_id)
        .where('dest_id', '=', row.dest_id)
        .where('updated_at_ms', '=', row.updated_at_ms)
        .where('config', '=', before)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await bumpDefinitionVersion(tx, 'stored_destinations');
      return true;
    });
  }

  async putStoredDestination(
    env_id: string,
    dest_id: string,
    config: Record<string, unknown> | null,
    now_ms: number,
  ) {
    const json = config === null ? null : JSON.stringify(config);
    await this.db.transaction().execute(async (tx) => {
      // Strictly after every earlier write, so saved rows keep the order they were written in
      // even within one millisecond.
      const last = await tx
        .selectFrom('stored_destinations')
        .select((eb) => eb.fn.max('updated_at_ms').as('at'))
        .executeTakeFirst();
      const at = Math.max(now_ms, Number(last?.at ?? 0) + 1);
      await tx
        .insertInto('stored_destinations')
        .values({ env_id, dest_id, config: json, created_at_ms: at, updated_at_ms: at })
        .onConflict((oc) =>
          oc.columns(['env_id', 'dest_id']).doUpdateSet({ config: json, updated_at_ms: at }),
        )
        .execute();
      await bumpDefinitionVersion(tx, 'stored_destinations');
    });
  }

  async forgetStoredDestination(env_id: string, dest_id: string) {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .deleteFrom('stored_destinations')
        .where('env_id', '=', env_id)
        .where('dest_id', '=', dest_id)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await bumpDefinitionVersion(tx, 'stored_destinations');
      return true;
    });
  }

  async storedDestinationsVersion() {
    return definitionVersion(this.db, 'stored_destinations');
  }

  async revokeSession(session_id: string, expires_at_ms: number, now_ms: number) {
    await this.db.deleteFrom('revoked_sessions').where('expires_at_ms', '<=', now_ms).execute();
    await this.db
      .insertInto('revoked_sessions')
      .values({ session_id, expires_at_ms })
      .onConflict((oc) => oc.column('session_id').doNothing())
      .execute();
  }

  async sessionRevoked(session_id: string) {
    const row = await this.db
      .selectFrom('revoked_sessions')
      .select('session_id')
      .where('session_id', '=', session_id)
      .executeTakeFirst();
    return row !== undefined;
  }

  async getTriggerRules(env_id: string) {
    const row = await this.db
      .selectFrom('trigger_rules')
      .select(['rules', 'updated_at_ms'])
      .where('env_id', '=', env_id)
      .executeTakeFirst();
    return row
      ? { rules: JSON.parse(row.rules) as TriggerRule[], updated_at_ms: Number(row.updated_at_ms) }
      : null;
  }

  async putTriggerRules(env_id: string, rules: readonly TriggerRule[], now_ms: number) {
    const json = JSON.stringify(rules);
    await this.db
      .insertInto('trigger_rules')
      .values({ env_id, rules: json, updated_at_ms: now_ms })
      .onConflict((oc) => oc.column('env_id').doUpdateSet({ rules: json, updated_at_ms: now_ms }))
      .execute();
  }

  async listConversions(f: ListFilter) {
    let q = this.db
      .selectFrom('conversions')
      .selectAll()
      .orderBy('created_at_ms', 'desc')
      .limit(f.limit);
    if (f.env_id) q = q.where('env_id', '=', f.env_id);
    if (f.dest_id) q = q.where('dest_id', '=', f.dest_id);
    if (f.status === 'attributed') q = q.where('attributed', '=', 1);
    if (f.status === 'unattributed') q = q.where('attributed', '=', 0);
    if (f.since_ms !== undefined) q = q.where('created_at_ms', '>=', f.since_ms);
    if (f.until_ms !== undefined) q = q.where('created_at_ms', '<', f.until_ms);
    return (await q.execute()).map(conversionFromRow);
  }

  async listDeliveries(f: ListFilter) {
    let q = this.db.selectFrom('outbox').selectAll().orderBy('id', 'desc').limit(f.limit);
    if (f.env_id) q = q.where('env_id', '=', f.env_id);
    if (f.dest_id) q = q.where('dest_id', '=', f.dest_id);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.since_ms !== undefined) q = q.where('created_at_ms', '>=', f.since_ms);
    if (f.until_ms !== undefined) q = q.where('created_at_ms', '<', f.until_ms);
    return (await q.execute()).map(outboxFromRow);
  }

  async getDelivery(id: number) {
    const row = await this.db
      .selectFrom('outbox')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('outbox_id', '=', id)
      .orderBy('id')
      .execute();
    return { outbox: outboxFromRow(row), attempts: attempts.map(attemptFromRow) };
  }

  async retryDelivery(id: number, now_ms: number): Promise<boolean> {
    const r = await this.db
      .updateTable('outbox')
      .set({
        status: 'pending',
        next_attempt_at_ms: now_ms,
        first_attempt_at_ms: null,
        attempts: 0,
        lease_until_ms: null,
        lease_owner: null,
        updated_at_ms: now_ms,
      })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'failed'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async requeueRange(
    env_id: string,
    dest_id: string,
    from_ms: number,
    to_ms: number,
    now_ms: number,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const convs = await trx
        .selectFrom('conversions')
        .select('conversion_id')
        .where('env_id', '=', env_id)
        .where('dest_id', '=', dest_id)
        .where('attributed', '=', 1)
        .where('created_at_ms', '>=', from_ms)
        .where('created_at_ms', '<', to_ms)
        .execute();
      for (const c of convs) await enqueue(trx, env_id, c.conversion_id, dest_id, now_ms);
      return convs.length;
    });
  }

  async counts(env_id?: string): Promise<StoreCounts> {
    const touches = await this.db
      .selectFrom('touches')
      .select(['kind', 'traffic', (eb) => eb.fn.countAll<number>().as('n')])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy(['kind', 'traffic'])
      .execute();
    const events = await this.db
      .selectFrom('events')
      .select((eb) => [
        'traffic',
        eb.fn.countAll<number>().as('n'),
        eb.fn.coalesce(eb.fn.sum<number>('duplicate_count'), eb.val(0)).as('dups'),
      ])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy('traffic')
      .execute();
    // A conversion has a row per destination: people's numbers count it once, and the
    // credits apart (what the platforms together claim).
    const conversions = await this.db
      .selectFrom('conversions')
      .select((eb) => [
        'attributed',
        eb.fn.count<number>('conversion_id').distinct().as('n'),
        eb.fn.countAll<number>().as('rows'),
      ])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy('attributed')
      .execute();
    const distinct = await this.db
      .selectFrom('conversions')
      .select((eb) => eb.fn.count<number>('conversion_id').distinct().as('n'))
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .executeTakeFirst();
    const outbox = await this.db
      .selectFrom('outbox')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .$if(!!env_id, (q) => q.where('env_id', '=', env_id as string))
      .groupBy('status')
      .execute();
    const sum = <R extends { n: unknown }>(rows: R[], keep: (r: R) => boolean) =>
      rows.filter(keep).reduce((acc, r) => acc + Number(r.n), 0);
    // Bots and prefetches are counted apart, never mixed into people's numbers.
    const human = (r: { traffic: string | null }) => r.traffic === null;
    const traffic = (t: string) => (r: { traffic: string | null }) => r.traffic === t;
    return {
      touches: sum(touches, human),
      impressions: sum(touches, (r) => human(r) && r.kind === 'impression'),
      clicks: sum(touches, (r) => human(r) && r.kind === 'click'),
      events: sum(events, human),
      duplicates: events.reduce((acc, r) => acc + Number(r.dups), 0),
      conversions: Number(distinct?.n ?? 0),
      attributed: sum(conversions, (r) => Number(r.attributed) === 1),
      platform_credits: conversions
        .filter((r) => Number(r.attributed) === 1)
        .reduce((acc, r) => acc + Number(r.rows), 0),
      outbox_pending: sum(outbox, (r) => r.status === 'pending'),
      outbox_delivered: sum(outbox, (r) => r.status === 'delivered'),
      outbox_dead: sum(outbox, (r) => r.status === 'dead' || r.status === 'failed'),
      bot_hits: sum(touches, traffic('bot')) + sum(events, traffic('bot')),
      prefetch_hits: sum(touches, traffic('prefetch')) + sum(events, traffic('prefetch')),
    };
  }

  async purge(c: PurgeCutoffs): Promise<PurgeReport> {
    const report: PurgeReport = {
      touches: 0,
      events: 0,
      dedup_keys: 0,
      import_keys: 0,
      partitions_dropped: 0,
      audience_batches_emptied: await emptyEndedSyncJobs(this.db, c.events_before_ms),
    };
    if (this.dialect === 'postgres') {
      const [touches, events] = PARTITIONED;
      const t = await dropBefore(this.db, touches, c.touches_before_s * 1000);
      const e = await dropBefore(this.db, events, c.events_before_ms);
      report.touches = t.rows;
      report.events = e.rows;
      report.partitions_dropped = t.partitions + e.partitions;
    } else {
      const t = await this.db
        .deleteFrom('touches')
        .where('time', '<', c.touches_before_s)
        .executeTakeFirst();
      const e = await this.db
        .deleteFrom('events')
        .where('received_at_ms', '<', c.events_before_ms)
        .executeTakeFirst();
      report.touches = Number(t.numDeletedRows);
      report.events = Number(e.numDeletedRows);
    }
    const d = await this.db
      .deleteFrom('dedup_keys')
      .where('first_seen', '<', c.dedup_before_s)
      .executeTakeFirst();
    report.dedup_keys = Number(d.numDeletedRows);
    report.import_keys = await purgeImportKeys(this.db, c.events_before_ms);
    // Expired rows carry ids and (hashed) IPs: they must not linger in the files either.
    // (Dropped PostgreSQL partitions leave nothing behind; deleted rows need a VACUUM.)
    if (report.touches + report.events > 0) await this.compact();
    return report;
  }

  reportCounts(q: ReportQuery) {
    return reportCounts(this.db, q);
  }

  setCampaignCost(
    env_id: string,
    campaign_id: string,
    from_day: number,
    to_day: number,
    cost: number,
    currency: string | null,
  ) {
    return setCampaignCost(this.db, env_id, campaign_id, from_day, to_day, cost, currency);
  }

  campaignCosts(env_id: string) {
    return campaignCosts(this.db, env_id);
  }

  importedKeys(env_id: string, keys: readonly ImportKey[]) {
    return importedKeys(this.db, this.dialect, env_id, keys);
  }

  rememberImported(env_id: string, keys: readonly ImportKey[], now_ms: number) {
    return rememberImported(this.db, env_id, keys, now_ms);
  }

  putFxRates(rates: readonly FxRate[], now_ms: number) {
    return putFxRates(this.db, rates, now_ms);
  }

  listFxRates(f?: FxRateFilter) {
    return listFxRates(this.db, f);
  }

  deleteFxRate(key: { date: string; from: string; to: string }) {
    return deleteFxRate(this.db, key);
  }

  listEvents(f: EventFilter) {
    return listEvents(this.db, f);
  }

  eventTrail(pk: string) {
    return eventTrail(this.db, pk);
  }

  async settleDeliveries(env_id: string, now_ms: number): Promise<number> {
    const r = await this.db
      .updateTable('outbox')
      .set({
        status: 'delivered',
        delivered_at_ms: now_ms,
        updated_at_ms: now_ms,
        clear_user: null,
      })
      .where('env_id', '=', env_id)
      .where('status', '=', 'pending')
      .where('kind', '=', 'conversion')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  healthCounts(env_id: string, since_ms: number) {
    return healthCounts(this.db, env_id, since_ms);
  }

  findSubject(keys: SubjectKeys): Promise<SubjectData> {
    return findSubject(this.db, keys);
  }

  async eraseSubject(
    keys: SubjectKeys,
    removals: ErasureRemovals,
    now_ms: number,
  ): Promise<Erasure> {
    const erasure = await this.db.transaction().execute(async (trx) => {
      // No worker claims a sync batch while the erasure reads which ones may have reached a
      // platform and takes the person out of the others: a claim in between would send them
      // with no removal queued.
      await holdClaims(trx, this.dialect);
      return eraseSubject(trx, keys, removals, now_ms);
    });
    await this.compact();
    return erasure;
  }

  async refreshStatistics(): Promise<void> {
    // SQLite plans these queries well without sqlite_stat1; ANALYZE could only move them.
    if (this.dialect === 'sqlite') return;
    // Right after a bulk load autovacuum has not run yet: the report's aggregate was planned
    // for 1 row and sorted 100,000 on disk (334 ms; 173 ms after this).
    await sql`VACUUM (ANALYZE) conversions, touch_days, events, touches, outbox`.execute(this.db);
  }

  /**
   * Makes deleted rows unrecoverable from the files: SQLite runs with secure_delete (freed
   * pages are zeroed) and the WAL, which still holds old page images, is checkpointed and
   * truncated; PostgreSQL's VACUUM reclaims the dead tuples.
   */
  private async compact(): Promise<void> {
    if (this.dialect === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db);
    else
      await sql`VACUUM events, touches, identity_links, conversions, outbox, delivery_attempts, dedup_keys`.execute(
        this.db,
      );
  }
}
