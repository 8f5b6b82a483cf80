import type { Attribution, LinkedAnonymousId } from '../domain/attribution.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { FxRate } from '../domain/fx-rates.js';
import type { TriggerRule } from '../domain/trigger-rules.js';
import type { ReportCounts, ReportQuery } from '../reports/report.js';
import type { AudienceStore, ConversionPathRecord, ErasureRemovals } from './audience-store.js';
import type { FxRateFilter } from './fx-rate-queries.js';

/** An event as stored, with its primary key. */
export interface StoredEvent {
  pk: string;
  received_at_ms: number;
  duplicate_count: number;
  event: TrackedEvent;
}

/** One conversion credited (or not) for one destination. */
export interface ConversionRecord {
  conversion_id: string;
  dest_id: string;
  env_id: string;
  event_pk: string;
  event_name: string;
  event_id: string;
  event_time: number;
  value: number | null;
  currency: string | null;
  attribution: Attribution | null;
  /** Why it is unattributed; null when attributed. */
  reason: string | null;
  created_at_ms: number;
  /** The event carried a test code: shown in the debugger, never reported; sent only to test channels. */
  test?: boolean;
  /**
   * This row is the one the deduplicated report counts for its conversion: its destination's
   * credit wins across all destinations (or no destination credited the conversion and this
   * row stands for it). See domain/dedup-credit.ts.
   */
  dedup_row?: boolean;
}

/** Delivery state of one (conversion, destination). */
export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'dead';

/**
 * Why a row failed, when a later copy of its event may change that: `identifiers` (nothing
 * the platform could match on; a copy that brings some queues it again) or `consent` (a copy
 * withdrew consent before it left; it never goes).
 */
export type FailedFor = 'identifiers' | 'consent';

export interface OutboxRecord {
  id: number;
  env_id: string;
  /** For a job (kind other than `conversion`): the job's key, e.g. `<audience_id>:<job id>`. */
  conversion_id: string;
  dest_id: string;
  /** `conversion`, or the kind of job (`audience_sync`). */
  kind: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at_ms: number;
  first_attempt_at_ms: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  delivered_at_ms: number | null;
  /** Why it failed, when a later copy may change that; null otherwise. */
  failed_for?: FailedFor | null;
}

/** An outbox row leased to one worker, with the conversion and the event it came from. */
export interface ClaimedDelivery {
  outbox: OutboxRecord;
  conversion: ConversionRecord;
  event: TrackedEvent;
}

/** An outbox job (not a conversion) leased to one worker, with what it sends. */
export interface ClaimedJob {
  outbox: OutboxRecord;
  payload: unknown;
}

/** Where to look for the touches of one person. */
export interface TouchLookup {
  env_id: string;
  user_id?: string;
  anonymous_ids: string[];
  touch_ids: string[];
  ip?: string;
  /** Oldest touch time worth reading, Unix seconds. */
  since: number;
}

/** One delivery attempt for the log. */
export interface AttemptRecord {
  outbox_id: number;
  env_id: string;
  at_ms: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  verdict: string;
  response_excerpt: string | null;
}

/** How an attempt changes its outbox row. */
export type OutboxUpdate =
  | {
      status: 'delivered';
      /** A job's payload from now on (what it sent may not outlive the delivery). */
      payload?: string | null;
    }
  | { status: 'pending'; next_attempt_at_ms: number }
  | { status: 'failed'; failed_for?: FailedFor }
  | { status: 'dead' };

/** A new conversion's rows: what IngestTx.recordConversion writes. */
export interface ConversionRows {
  path: ConversionPathRecord;
  conversions: readonly ConversionRecord[];
  deliveries: readonly DeliveryRequest[];
}

/**
 * Set-wise forms of the ingest path's hottest statements, for a store where one statement
 * over many events costs far less than one per event (PostgreSQL: a round trip each).
 */
export interface SetWiseIngest {
  /**
   * claimAndInsertEvent for each event (their dedup keys distinct), all received at
   * `received_at_ms`: true where the claim was won and the event inserted, false where it
   * was lost and nothing was inserted.
   */
  claimAndInsertEvents(
    events: ReadonlyArray<{ pk: string; event: TrackedEvent }>,
    received_at_ms: number,
    stale_before: number,
  ): Promise<boolean[]>;
  /** findTouches for each lookup, answered in the same order. */
  findTouchesMany(lookups: readonly TouchLookup[]): Promise<Touch[][]>;
  /** recordConversion for each conversion. */
  recordConversions(rows: readonly ConversionRows[]): Promise<void>;
}

/** Reads and writes inside one transaction of the ingest path. */
export interface IngestTx {
  /** Present where set-wise statements pay (PostgreSQL). */
  readonly setWise?: SetWiseIngest;
  insertTouches(touches: readonly Touch[]): Promise<void>;
  findDedup(
    env_id: string,
    event_name: string,
    event_id: string,
  ): Promise<{ event_pk: string; first_seen: number } | null>;
  getEvent(pk: string): Promise<StoredEvent | null>;
  insertEvent(pk: string, event: TrackedEvent, received_at_ms: number): Promise<void>;
  /**
   * claimDedup for the event (first seen in the second of `received_at_ms`), and insertEvent
   * when the claim is won (answering null); when it is lost, answers the holder and inserts
   * nothing. One round trip on PostgreSQL.
   */
  claimAndInsertEvent(
    pk: string,
    event: TrackedEvent,
    received_at_ms: number,
    stale_before: number,
  ): Promise<string | null>;
  /**
   * Takes the dedup key for `event_pk` when it is new or older than `stale_before`, and
   * answers null; otherwise answers the event that holds it. A unique key decides, so two
   * processes racing on one event id cannot both win.
   */
  claimDedup(
    env_id: string,
    event_name: string,
    event_id: string,
    event_pk: string,
    first_seen: number,
    stale_before: number,
  ): Promise<string | null>;
  updateDuplicate(pk: string, merged: TrackedEvent): Promise<void>;
  linkIdentity(
    env_id: string,
    links: ReadonlyArray<{ key_type: string; key_value: string }>,
    anonymous_id: string,
    seen: number,
  ): Promise<void>;
  findLinkedAnonymousIds(
    env_id: string,
    keys: ReadonlyArray<{ key_type: LinkedAnonymousId['via']; key_value: string }>,
  ): Promise<LinkedAnonymousId[]>;
  findTouches(lookup: TouchLookup): Promise<Touch[]>;
  conversionsOfEvent(event_pk: string): Promise<ConversionRecord[]>;
  putConversion(c: ConversionRecord): Promise<void>;
  /** The delivery rows of one conversion (one per destination it was queued for). */
  deliveriesOfConversion(env_id: string, conversion_id: string): Promise<OutboxRecord[]>;
  /**
   * Queues delivered or failed rows again, due at `due_ms`, as new (no attempts spent), with
   * `raw_ip` and `clear_user` when given; rows pending or leased meanwhile are left as they are. Answers the
   * ids queued.
   */
  requeueDeliveries(
    ids: readonly number[],
    due_ms: number,
    now_ms: number,
    raw_ip?: string,
    clear_user?: string,
  ): Promise<number[]>;
  /**
   * Puts the clear name and address values (JSON) a platform needs on a row still pending;
   * cleared, like `raw_ip`, once the row is done. Never on the event.
   */
  setClearUser(id: number, clear_user: string): Promise<void>;
  /**
   * Fails pending rows that no worker holds (nothing has left yet) for `failed_for`, with an
   * attempt that says why; rows in flight are left to finish. Answers the ids cancelled.
   */
  cancelDeliveries(
    ids: readonly number[],
    failed_for: FailedFor,
    reason: string,
    now_ms: number,
  ): Promise<number[]>;
  /** Stores (or replaces) the multi-touch path of a conversion. */
  putConversionPath(p: ConversionPathRecord): Promise<void>;
  /**
   * Queues (or re-queues) delivery of one conversion to one destination, due at `due_ms`.
   * `raw_ip` and `clear_user` (the clear name and address values the platform needs, JSON),
   * when given, are kept on the row for the platform and cleared once it is done.
   */
  enqueueDelivery(
    env_id: string,
    conversion_id: string,
    dest_id: string,
    now_ms: number,
    due_ms?: number,
    raw_ip?: string,
    clear_user?: string,
  ): Promise<void>;
  /**
   * A new conversion's rows at once: its path, one row per destination and the deliveries
   * to queue — what putConversionPath, putConversion and enqueueDelivery would write, in
   * one round trip on PostgreSQL.
   */
  recordConversion(
    path: ConversionPathRecord,
    conversions: readonly ConversionRecord[],
    deliveries: readonly DeliveryRequest[],
  ): Promise<void>;
}

/** A delivery to queue, as enqueueDelivery takes it. */
export interface DeliveryRequest {
  env_id: string;
  conversion_id: string;
  dest_id: string;
  now_ms: number;
  due_ms: number;
  raw_ip?: string;
  /** The clear name and address values (JSON) the destination's platform needs. */
  clear_user?: string;
}

/** Filters of the admin lists. */
export interface ListFilter {
  env_id?: string;
  dest_id?: string;
  status?: string;
  since_ms?: number;
  until_ms?: number;
  limit: number;
}

/** Counts shown by `/api/stats` and the benchmark. */
export interface StoreCounts {
  touches: number;
  impressions: number;
  clicks: number;
  events: number;
  duplicates: number;
  /** Conversions, each once however many destinations it went to. */
  conversions: number;
  /** Conversions some destination credited (each once). */
  attributed: number;
  /** Credits summed over destinations: what the platforms together will claim. */
  platform_credits: number;
  outbox_pending: number;
  outbox_delivered: number;
  outbox_dead: number;
  /** Touches and events from bots and scanners, kept apart from the counts above. */
  bot_hits: number;
  /** Touches and events from prefetches and mail privacy proxies. */
  prefetch_hits: number;
}

/** Who to find or erase: any of these keys, in one environment (email and phone hashed). */
export interface SubjectKeys {
  env_id: string;
  user_id?: string;
  email_sha256?: string;
  phone_sha256?: string;
  anonymous_id?: string;
}

/** Everything stored about one person. */
export interface SubjectData {
  /** Browser ids tied to the person by identity links. */
  anonymous_ids: string[];
  events: StoredEvent[];
  touches: Touch[];
  identity_links: Array<{
    env_id: string;
    key_type: string;
    key_value: string;
    anonymous_id: string;
    last_seen: number;
  }>;
  conversions: ConversionRecord[];
  deliveries: OutboxRecord[];
}

/** Rows deleted by an erasure, per table. */
export interface ErasureCounts {
  events: number;
  dedup_keys: number;
  conversions: number;
  outbox: number;
  delivery_attempts: number;
  touches: number;
  identity_links: number;
  /** Multi-touch paths of the erased conversions (issue 9). */
  conversion_paths: number;
  /** Audience memberships and sync records held under the person's ids. */
  audience_rows: number;
}

/** What an erasure did. */
export interface Erasure {
  deleted: ErasureCounts;
  /**
   * Removals of the person from platform audiences they were sent to (one per person id ×
   * audience × destination × platform audience), queued as audience sync remove batches.
   */
  audience_removals_queued: number;
}

/** A destination saved through the admin API; `config` (file form) is null once deleted. */
export interface StoredDestinationRow {
  env_id: string;
  dest_id: string;
  config: Record<string, unknown> | null;
  created_at_ms: number;
  updated_at_ms: number;
}

/** An environment's codeless trigger rules and when they last changed. */
export interface StoredTriggerRules {
  rules: TriggerRule[];
  updated_at_ms: number;
}

/** What identifies an imported row in its environment (DESIGN §6 dedup key). */
export interface ImportKey {
  event_name: string;
  event_id: string;
}

export interface PurgeCutoffs {
  /** Touches with `time` (Unix s) before this go. */
  touches_before_s: number;
  /** Events received before this (ms) go; their conversions stay, for reports. */
  events_before_ms: number;
  /** Dedup keys first seen before this (Unix s) go. */
  dedup_before_s: number;
}

export interface PurgeReport {
  touches: number;
  events: number;
  dedup_keys: number;
  /** Import ledger keys as old as the events that go (events_before_ms). */
  import_keys: number;
  /** Day partitions dropped whole (PostgreSQL). */
  partitions_dropped: number;
  /** Audience batches that ended undelivered, emptied of the hashed ids they kept. */
  audience_batches_emptied: number;
}

/** Filters of the debugger's event list. */
export interface EventFilter {
  env_id?: string;
  source?: string;
  event_name?: string;
  test_code?: string;
  limit: number;
}

/** An event with what became of it: conversions, deliveries and their attempts. */
export interface EventTrail {
  event: StoredEvent;
  conversions: ConversionRecord[];
  deliveries: Array<{ outbox: OutboxRecord; attempts: AttemptRecord[] }>;
}

/** What the health page is computed from (one environment, a recent window). */
export interface HealthCounts {
  sources: Array<{
    source: string;
    last_ms: number;
    events: number;
    duplicates: number;
    /** The newest events of the source, to score their match keys. */
    sample: TrackedEvent[];
  }>;
  touches: { last_ms: number | null; count: number };
  conversions: Array<{ dest_id: string; attributed: boolean; n: number }>;
  /** Finished rows by status in the window, and every pending row with its oldest age. */
  outbox: Array<{ dest_id: string; status: string; n: number; oldest_ms: number | null }>;
}

/** The storage port (DESIGN §2): one implementation per database, one contract suite. */
export interface Store extends AudienceStore {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store can commit; throws otherwise (for `/readyz`). */
  ping(): Promise<void>;
  /**
   * Runs `fn` in one transaction and commits. When PostgreSQL aborts it for a deadlock or a
   * serialization failure, `fn` runs again in a new one (a few times at most): it must have
   * no effect outside the transaction before its result is returned.
   */
  ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T>;
  /** Commits pixel touches outside the event transaction (SQLite: on a thread of its own). */
  insertTouches(touches: readonly Touch[]): Promise<void>;

  claimDeliveries(
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedDelivery[]>;
  /**
   * Leases due jobs of one kind (same rules as conversions: a destination's jobs of a kind go
   * out in id order, paused destinations wait).
   */
  claimJobs(
    kind: string,
    now_ms: number,
    limit: number,
    lease_ms: number,
    owner: string,
    paused: ReadonlySet<string>,
  ): Promise<ClaimedJob[]>;
  /** Records attempts and moves their rows on, in one transaction. */
  finishAttempts(
    entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
  ): Promise<void>;
  /**
   * Pushes the lease of rows this owner still holds (and has not finished) to `until_ms`,
   * so a slow round is not claimed again by another worker mid-send. Returns the ids it
   * still held: a row missing from the answer now belongs to another worker.
   */
  extendLeases(owner: string, ids: readonly number[], until_ms: number): Promise<number[]>;
  /** Owners of leases that have not expired yet. */
  leaseOwners(now_ms: number): Promise<string[]>;
  /** Frees the leases of owners known to be dead, so their rows need not wait for expiry. */
  releaseLeases(owners: readonly string[]): Promise<number>;
  nextDueAt(): Promise<number | null>;
  /**
   * Which sources sent which event names since `since_ms`, with the latest receipt of each:
   * seeds `merge_window: auto` at start (ingest/copy-sources.ts).
   */
  eventSourcesSince(
    since_ms: number,
  ): Promise<Array<{ env_id: string; event_name: string; source: string; last_ms: number }>>;
  pausedDestinations(): Promise<Array<{ env_id: string; dest_id: string; reason: string | null }>>;
  setDestinationPaused(
    env_id: string,
    dest_id: string,
    paused: boolean,
    reason: string | null,
    now_ms: number,
  ): Promise<void>;

  listConversions(f: ListFilter): Promise<ConversionRecord[]>;
  listDeliveries(f: ListFilter): Promise<OutboxRecord[]>;
  getDelivery(id: number): Promise<{ outbox: OutboxRecord; attempts: AttemptRecord[] } | null>;
  /** Puts a dead or failed row back in the queue; false when there is no such row. */
  retryDelivery(id: number, now_ms: number): Promise<boolean>;
  /** Re-queues every conversion of a destination created in [from, to); returns how many. */
  requeueRange(
    env_id: string,
    dest_id: string,
    from_ms: number,
    to_ms: number,
    now_ms: number,
  ): Promise<number>;
  counts(env_id?: string): Promise<StoreCounts>;
  /** Every destination saved through the admin API, deleted ones included. */
  storedDestinations(): Promise<StoredDestinationRow[]>;
  /**
   * Replaces a saved destination's config with the same settings differently sealed (the
   * secrets encrypted, or encrypted again under a new key), only if the row is still as it
   * was read: an edit or delete made meanwhile wins. True when it was replaced.
   */
  resealStoredDestination(
    row: StoredDestinationRow,
    config: Record<string, unknown>,
  ): Promise<boolean>;
  /**
   * Saves (or, with `config` null, deletes) a destination. Each write moves the table's
   * version on, which is how other processes notice it.
   */
  putStoredDestination(
    env_id: string,
    dest_id: string,
    config: Record<string, unknown> | null,
    now_ms: number,
  ): Promise<void>;
  /** Forgets a saved destination (or deletion), so the config file's applies again. */
  forgetStoredDestination(env_id: string, dest_id: string): Promise<boolean>;
  /** A counter of the saved destinations that every write moves on. */
  storedDestinationsVersion(): Promise<string>;
  /** The codeless trigger rules of an environment, or null when none were ever saved. */
  /**
   * Ends a dashboard session everywhere (logout) until `expires_at_ms`, when it would have
   * expired anyway; sessions already past their expiry are forgotten on the way.
   */
  revokeSession(session_id: string, expires_at_ms: number, now_ms: number): Promise<void>;
  /** Whether a dashboard session was ended by logging out. */
  sessionRevoked(session_id: string): Promise<boolean>;
  getTriggerRules(env_id: string): Promise<StoredTriggerRules | null>;
  /** Replaces the environment's rule set. */
  putTriggerRules(env_id: string, rules: readonly TriggerRule[], now_ms: number): Promise<void>;
  /** Everything stored about one person (events, touches, links, conversions, deliveries). */
  findSubject(keys: SubjectKeys): Promise<SubjectData>;
  /** Deletes every row of one person in one transaction, and leaves no copy in the files. */
  eraseSubject(keys: SubjectKeys, removals: ErasureRemovals, now_ms: number): Promise<Erasure>;

  /**
   * Deletes what retention allows: touches, events, dedup keys and import keys older than
   * their cutoffs (import keys go with the events).
   * On PostgreSQL whole day partitions are dropped (cutoffs act at day granularity: a row is
   * kept until its whole day has passed the cutoff).
   */
  purge(cutoffs: PurgeCutoffs): Promise<PurgeReport>;
  /** Makes the partitions of today and the next days (PostgreSQL); nothing on SQLite. */
  ensurePartitions(now_ms: number): Promise<void>;

  /**
   * For each key, whether a CSV import already stored it (the import ledger, kept as long as
   * events: a file imported again adds nothing however long after). Answered in order.
   */
  importedKeys(env_id: string, keys: readonly ImportKey[]): Promise<boolean[]>;
  /** Notes the keys of rows an import stored (or found stored); a key noted before stays. */
  rememberImported(env_id: string, keys: readonly ImportKey[], now_ms: number): Promise<void>;

  /** Touches, conversions and spend of a report, added up per group (see reports/). */
  reportCounts(q: ReportQuery): Promise<ReportCounts[]>;
  /** Spreads a campaign's spend evenly over the UTC days [from_day, to_day] (Unix days). */
  setCampaignCost(
    env_id: string,
    campaign_id: string,
    from_day: number,
    to_day: number,
    cost: number,
    currency: string | null,
  ): Promise<void>;
  campaignCosts(
    env_id: string,
  ): Promise<Array<{ campaign_id: string; cost: number; days: number; currency: string | null }>>;
  /** Saves exchange rates (`/api/fx-rates`), replacing those of the same pair and day. */
  putFxRates(rates: readonly FxRate[], now_ms: number): Promise<void>;
  /** Saved exchange rates, by pair then date. */
  listFxRates(f?: FxRateFilter): Promise<FxRate[]>;
  /** Deletes one saved rate; false when there was none. */
  deleteFxRate(key: { date: string; from: string; to: string }): Promise<boolean>;
  /** The newest events matching a filter (the debugger's list). */
  listEvents(f: EventFilter): Promise<StoredEvent[]>;
  eventTrail(pk: string): Promise<EventTrail | null>;
  healthCounts(env_id: string, since_ms: number): Promise<HealthCounts>;
  /**
   * Brings the query planner up to date after a bulk load (PostgreSQL: VACUUM ANALYZE, which
   * also lets index-only scans skip the heap); nothing on SQLite.
   */
  refreshStatistics(): Promise<void>;
  /** Marks an environment's pending deliveries delivered without sending (seeded demo data). */
  settleDeliveries(env_id: string, now_ms: number): Promise<number>;
}
