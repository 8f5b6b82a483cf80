import type { Generated } from 'kysely';
import type { AudienceTables } from './schema-audiences.js';
import type { PostbackTables } from './schema-postbacks.js';

/** Row types of every table, for Kysely. Times ending in `_ms` are Unix ms, others Unix s. */
export interface TouchesTable {
  id: Generated<number>;
  env_id: string;
  kind: string;
  touch_id: string;
  dest_id: string | null;
  campaign_id: string | null;
  creative_id: string | null;
  placement_id: string | null;
  time: number;
  anonymous_id: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** bot | prefetch; null for human. */
  traffic: string | null;
  /** A visit's TrafficSource as JSON (0022_channels); null on most ad touches. */
  traffic_source: string | null;
}

export interface EventsTable {
  pk: string;
  env_id: string;
  event_name: string;
  event_id: string;
  event_time: number;
  received_at_ms: number;
  source: string;
  anonymous_id: string | null;
  user_id: string | null;
  value: number | null;
  currency: string | null;
  /** The whole TrackedEvent as JSON. */
  data: string;
  duplicate_count: number;
  /** bot | prefetch; null for human. */
  traffic: string | null;
  /** 1 when the event carried a test code (0032_lift_reads), as `conversions.is_test`. */
  is_test: Generated<number>;
}

/** A later copy merged into a stored event, changing its JSON (0041; kept three days). */
export interface EventMergesTable {
  merged_at_ms: number;
  env_id: string;
  pk: string;
}

export interface DedupKeysTable {
  env_id: string;
  event_name: string;
  event_id: string;
  event_pk: string;
  first_seen: number;
}

/** Keys of the rows CSV imports stored, kept as long as events (migration 0017). */
export interface ImportKeysTable {
  env_id: string;
  event_name: string;
  event_id: string;
  imported_at_ms: number;
}

export interface IdentityLinksTable {
  env_id: string;
  key_type: string;
  key_value: string;
  anonymous_id: string;
  last_seen: number;
}

export interface ConversionsTable {
  conversion_id: string;
  dest_id: string;
  env_id: string;
  event_pk: string;
  event_name: string;
  event_id: string;
  event_time: number;
  value: number | null;
  currency: string | null;
  attributed: number;
  attribution: string | null;
  reason: string | null;
  created_at_ms: number;
  /** Copied from `attribution` (0003_dashboard) so reports can group by them. */
  attr_type: string | null;
  campaign_id: string | null;
  creative_id: string | null;
  /** `deterministic` or `probabilistic`, copied from `attribution` (0013_match_type). */
  match_type: string | null;
  /** 1 when the event carried a test code: shown in the debugger, never delivered. */
  is_test: number;
  /**
   * 1 on the one row of a conversion the deduplicated view counts: the destination whose
   * credit wins across all destinations, or, when none credited it, one of its rows (0015b).
   */
  dedup_row: number;
  /** The install fraud checks that fired, a JSON list; null when none (0027_install_fraud). */
  fraud: string | null;
  /** An install's verdicts (domain/install-verdicts.ts), JSON; null for other events (0033). */
  fraud_verdicts: string | null;
}

export interface OutboxTable {
  id: Generated<number>;
  env_id: string;
  conversion_id: string;
  dest_id: string;
  status: string;
  attempts: number;
  next_attempt_at_ms: number;
  first_attempt_at_ms: number | null;
  lease_until_ms: number | null;
  lease_owner: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  delivered_at_ms: number | null;
  /** The client IP a platform delivery needs; null once the row is done. */
  raw_ip: string | null;
  /** The clear name and address values (JSON) a platform delivery needs; null once done. */
  clear_user: string | null;
  /** `conversion`, or a job kind such as `audience_sync` (0010_outbox_jobs). */
  kind: Generated<string>;
  /** A job's JSON: what it sends; null for conversions. */
  payload: string | null;
  /** Why a failed row may be sent again by a later copy (0012_outbox_failed_for). */
  failed_for: string | null;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  env_id: string;
  outbox_id: number;
  at_ms: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  verdict: string;
  response_excerpt: string | null;
}

export interface DestinationStateTable {
  env_id: string;
  dest_id: string;
  paused: number;
  reason: string | null;
  updated_at_ms: number;
}

/** Spend of one campaign on one UTC day (`day` = Unix days). */
export interface CampaignCostsTable {
  env_id: string;
  campaign_id: string;
  /** The channel an import named; '' for none (0023_costs). */
  channel: Generated<string>;
  day: number;
  cost: number;
  currency: string | null;
  source: string | null;
  medium: string | null;
  impressions: number | null;
  clicks: number | null;
  updated_at_ms: number | null;
}

/** Touches per UTC day and key (see domain/touch-days.ts); ids missing are ''. */
export interface TouchDaysTable {
  env_id: string;
  day: number;
  kind: string;
  dest_id: string;
  campaign_id: string;
  creative_id: string;
  n: number;
}

export interface Database extends AudienceTables, PostbackTables {
  touches: TouchesTable;
  events: EventsTable;
  event_merges: EventMergesTable;
  dedup_keys: DedupKeysTable;
  import_keys: ImportKeysTable;
  identity_links: IdentityLinksTable;
  conversions: ConversionsTable;
  outbox: OutboxTable;
  delivery_attempts: DeliveryAttemptsTable;
  destination_state: DestinationStateTable;
  trigger_rules: TriggerRulesTable;
  campaign_costs: CampaignCostsTable;
  touch_days: TouchDaysTable;
  fx_rates: FxRatesTable;
  stored_destinations: StoredDestinationsTable;
  definition_versions: DefinitionVersionsTable;
  revoked_sessions: RevokedSessionsTable;
  channel_settings: ChannelSettingsTable;
  impression_views: ImpressionViewsTable;
}

/** An environment's channel settings saved through the admin API, as JSON (0022_channels). */
export interface ChannelSettingsTable {
  env_id: string;
  settings: string;
  updated_at_ms: number;
}

/** What the viewability tag measured of one impression (migration 0025); flags are 0/1. */
export interface ImpressionViewsTable {
  env_id: string;
  imp_id: string;
  /** Part of the key since migration 0038 (`''` only on rows older than that). */
  dest_id: string;
  measurable: number;
  viewable: number;
  time_to_view_ms: number | null;
  /** The largest share of the ad's pixels seen in view, 0..1. */
  max_share: number | null;
  video: number;
  first_ms: number;
  updated_ms: number;
}

/** Dashboard sessions ended by logging out, until they would have expired (migration 0012). */
export interface RevokedSessionsTable {
  session_id: string;
  expires_at_ms: number;
}

/** An exchange rate saved through the admin API: 1 base = rate quote from `day` (0015). */
export interface FxRatesTable {
  base: string;
  quote: string;
  day: number;
  rate: number;
  updated_at_ms: number;
}

/** A counter per kind of definition, moved on by every write (migration 0011). */
export interface DefinitionVersionsTable {
  name: string;
  version: number;
}

/** Codeless trigger rules of one environment, as JSON (migration 0005_compat). */
export interface TriggerRulesTable {
  env_id: string;
  rules: string;
  updated_at_ms: number;
}

/** Destinations made or edited through the admin API (migration 0010_stored_destinations). */
export interface StoredDestinationsTable {
  env_id: string;
  dest_id: string;
  /** The destination in the config file's form, as JSON; null once deleted. */
  config: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}
