import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import type { Touch, TrackedEvent } from '../../domain/event.js';
import type { ImpressionView } from '../../domain/viewability.js';
import type { ConversionPathRecord } from '../audience-records.js';
import type {
  ConversionRecord,
  ConversionRows,
  DeliveryRequest,
  FailedFor,
  ImportKey,
  OutboxRecord,
  StoredEvent,
  TouchLookup,
} from '../records.js';

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
  /**
   * findTouchesMany where a read marked `own_first` reads its address only when its other
   * keys find no touch (decisions.ts readsOwnFirst): `own` is true where they found some, the
   * address then left unread.
   */
  findTouchesOwnFirst(
    reads: ReadonlyArray<{ lookup: TouchLookup; own_first: boolean }>,
  ): Promise<Array<{ touches: Touch[]; own: boolean }>>;
  /** recordConversion for each conversion. */
  recordConversions(rows: readonly ConversionRows[]): Promise<void>;
  /**
   * findLinkedAnonymousIds for each read, answered in the same order. Only where no write of
   * the transaction changes the links between the reads (a recompute's page of conversions),
   * not for a batch, whose events link their identities one after the other.
   */
  findLinkedAnonymousIdsMany(
    reads: ReadonlyArray<{
      env_id: string;
      keys: readonly IdentityKey[];
    }>,
  ): Promise<LinkedAnonymousId[][]>;
  /**
   * From now until the transaction commits, linkIdentity only notes its links, and the links
   * noted are written in one statement before any read that needs them and before the
   * commit; the links of the keys of `reads` are read now, in one statement, and
   * findLinkedAnonymousIds of those keys is answered in memory where that answer is exactly
   * the store's rows (LinkBuffer). For a batch whose events link and read their identities
   * one after the other: one round trip each way instead of one for each. Those keys' links
   * are then as they were committed when this read ran, where each event's own read would
   * see what other transactions committed since (READ COMMITTED): a batch lasts milliseconds,
   * and a read made late in it could already miss a link committed before its end.
   */
  bufferLinks(
    reads: ReadonlyArray<{
      env_id: string;
      keys: readonly IdentityKey[];
    }>,
  ): Promise<void>;
}

/** Reads and writes inside one transaction of the ingest path. */
export interface IngestTx {
  /** Present where set-wise statements pay (PostgreSQL). */
  readonly setWise?: SetWiseIngest;
  insertTouches(touches: readonly Touch[]): Promise<void>;
  getEvent(pk: string): Promise<StoredEvent | null>;
  insertEvent(pk: string, event: TrackedEvent, received_at_ms: number): Promise<void>;
  /**
   * Takes the event's dedup key (first seen in the second of `received_at_ms`) when it is new
   * or older than `stale_before`, and inserts the event (answering null); when another event
   * holds the key, answers it and inserts nothing. A unique key decides, so two processes
   * racing on one event id cannot both win. One round trip on PostgreSQL.
   */
  claimAndInsertEvent(
    pk: string,
    event: TrackedEvent,
    received_at_ms: number,
    stale_before: number,
  ): Promise<string | null>;
  /**
   * Stores the merge of a later copy. `changed_at_ms`: when the copy added to the event (its
   * ids, say), recorded for an erasure's second search (0041); absent when it added nothing.
   */
  updateDuplicate(pk: string, merged: TrackedEvent, changed_at_ms?: number): Promise<void>;
  linkIdentity(
    env_id: string,
    links: readonly IdentityKey[],
    anonymous_id: string,
    seen: number,
  ): Promise<void>;
  findLinkedAnonymousIds(
    env_id: string,
    keys: readonly IdentityKey[],
  ): Promise<LinkedAnonymousId[]>;
  findTouches(lookup: TouchLookup): Promise<Touch[]>;
  /**
   * What the viewability tag measured of these impressions (issue 24), by viewKey: each
   * impression is its destination's (two DSPs may send the same imp_id).
   */
  impressionViews(
    env_id: string,
    refs: ReadonlyArray<{ dest_id: string; imp_id: string }>,
  ): Promise<Map<string, ImpressionView>>;
  /**
   * Clicks of one device (`anonymous_id`) or one address (`ip`) in `[from, to]` (Unix s),
   * counted up to `cap` (a count at the cap means at least that many): install fraud's
   * flooding check, one short index range (0027_install_fraud).
   */
  countClicks(
    env_id: string,
    by: 'anonymous_id' | 'ip',
    value: string,
    from: number,
    to: number,
    cap: number,
  ): Promise<number>;
  /** The rows of the conversion an event became (one per destination), by its id. */
  conversionsOfEvent(env_id: string, event_pk: string): Promise<ConversionRecord[]>;
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

/** What the ingest path writes: one transaction per batch, touches, the import ledger. */
export interface IngestPort {
  /**
   * Runs `fn` in one transaction and commits. When PostgreSQL aborts it for a deadlock or a
   * serialization failure, `fn` runs again in a new one (a few times at most): it must have
   * no effect outside the transaction before its result is returned.
   */
  ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T>;
  /**
   * Commits pixel touches outside the event transaction (SQLite: on a thread of its own).
   * Touches are append-only: a stored touch is never updated, only deleted (erasure, purge),
   * and its id never names another touch. Lookups by address rely on it (TouchCache).
   */
  insertTouches(touches: readonly Touch[]): Promise<void>;
  /**
   * Merges viewability signals into the rows of their impressions (issue 24): an upsert keyed
   * by `(env_id, imp_id)`, so a signal may come before or after its impression's touch.
   */
  upsertImpressionViews(views: readonly ImpressionView[]): Promise<void>;
  /**
   * For each key, whether a CSV import already stored it (the import ledger, kept as long as
   * events: a file imported again adds nothing however long after). Answered in order.
   */
  importedKeys(env_id: string, keys: readonly ImportKey[]): Promise<boolean[]>;
  /** Notes the keys of rows an import stored (or found stored); a key noted before stays. */
  rememberImported(env_id: string, keys: readonly ImportKey[], now_ms: number): Promise<void>;
  /**
   * Which sources sent which event names since `since_ms`, with the latest receipt of each:
   * seeds `merge_window: auto` at start (ingest/copy-sources.ts).
   */
  eventSourcesSince(
    since_ms: number,
  ): Promise<Array<{ env_id: string; event_name: string; source: string; last_ms: number }>>;
}
