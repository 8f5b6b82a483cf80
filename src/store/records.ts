import type { Attribution } from '../domain/attribution.js';
import type { Touch, TouchKind, TrackedEvent } from '../domain/event.js';
import type { InstallVerdicts } from '../domain/install-verdicts.js';
import type { TriggerRule } from '../domain/trigger-rules.js';
import type { ConversionPathRecord } from './audience-records.js';

// The rows and records the store's ports take and answer (ports/*), apart from the audience
// ones (audience-records.ts).

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
  /**
   * The install fraud checks that fired for it (domain/install-fraud.ts): `click_injection`,
   * `click_flooding` (a click of its barred), `suspicious_install`. Absent: none.
   */
  fraud?: string[];
  /**
   * What an install's checks decided at ingest (the settings, the clicks judged flooding, why
   * it looked sent by no phone): the debugger explains these, never judges again.
   */
  fraud_verdicts?: InstallVerdicts;
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
  /**
   * Oldest time worth reading by `ip`, Unix seconds (absent: `since`): a touch the address
   * alone matches counts only inside the probabilistic windows (DESIGN §6). Of the older ones
   * the newest ad touch is still read, so an unattributed reason can name the nearest miss.
   */
  ip_since?: number;
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

/** Filters of the touch list (`GET /api/touches`, issue 24). */
export interface TouchFilter {
  env_id: string;
  imp_id?: string;
  click_id?: string;
  kind?: TouchKind;
  campaign_id?: string;
  /** Unix seconds. */
  since_s?: number;
  limit: number;
}

/** A stored touch with its row id and, for an impression, its viewability (`touch.view`). */
export interface ListedTouch {
  id: number;
  touch: Touch;
  /** When its latest viewability signal arrived (Unix ms); null when none did. */
  view_updated_ms: number | null;
}

/** Counts shown by `/api/stats` and the benchmark. */
export interface StoreCounts {
  /** Ad touches: impressions and clicks. */
  touches: number;
  impressions: number;
  clicks: number;
  /** Visit touches (landings of a channel, issue 23), apart from the ad touches. */
  visits: number;
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
  /** What the viewability tag measured of the person's impressions (issue 24). */
  impression_views: number;
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
  /**
   * Unverified Apple postbacks received before this (ms) go, and their hourly counts; absent:
   * with the events.
   */
  unverified_postbacks_before_ms?: number;
}

export interface PurgeReport {
  touches: number;
  events: number;
  dedup_keys: number;
  /** Import ledger keys as old as the events that go (events_before_ms). */
  import_keys: number;
  /** Apple postbacks received before events_before_ms, unverified ones sooner. */
  apple_postbacks: number;
  /** Viewability rows of impressions as old as the touches that go (issue 24). */
  impression_views: number;
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
  /** Ad touches (impressions and clicks). */
  touches: { last_ms: number | null; count: number };
  /** Visit touches: landings of a channel (issue 23), apart from the ad touches. */
  visits: { last_ms: number | null; count: number };
  conversions: Array<{ dest_id: string; attributed: boolean; n: number }>;
  /** Conversion rows flagged by install fraud checks, by destination and set of checks. */
  fraud: Array<{ dest_id: string; checks: string[]; n: number }>;
  /** Finished rows by status in the window, and every pending row with its oldest age. */
  outbox: Array<{ dest_id: string; status: string; n: number; oldest_ms: number | null }>;
}

/** Which saved rates to read: one pair, and/or a range of dates (inclusive). */
export interface FxRateFilter {
  from?: string;
  to?: string;
  since?: string;
  until?: string;
}
