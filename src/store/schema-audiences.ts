/** Row types of the issue-9 tables (migration 0006_audiences). Times as in schema.ts. */
export interface ConversionPathsTable {
  env_id: string;
  conversion_id: string;
  event_pk: string;
  event_name: string;
  event_time: number;
  value: number | null;
  currency: string | null;
  lookback_s: number;
  /** JSON array of PathTouchRecord. */
  touches: string;
  created_at_ms: number;
}

export interface AudiencesTable {
  env_id: string;
  id: string;
  name: string;
  /** The rules as JSON, in the form POST /api/audiences accepts. */
  rules: string;
  min_export_size: number;
  created_at_ms: number;
  recomputed_at_ms: number | null;
}

export interface AudienceMembersTable {
  env_id: string;
  audience_id: string;
  key_type: string;
  key_value: string;
  person: string;
  member: number;
  changes_at: number | null;
  email_sha256: string | null;
  phone_sha256: string | null;
  phone_e164_sha256: string | null;
  updated_at_ms: number;
}

export interface AudienceSizesTable {
  env_id: string;
  audience_id: string;
  at_ms: number;
  size: number;
}

export interface AudienceSyncedTable {
  env_id: string;
  audience_id: string;
  dest_id: string;
  person: string;
  /** JSON of the hashed identifiers sent, so a removal sends the same ones. */
  ids: string;
  synced_at_ms: number;
}

/** A scheduled sync of one audience to one destination (0010_outbox_jobs). */
export interface AudienceSchedulesTable {
  env_id: string;
  audience_id: string;
  dest_id: string;
  platform_audience_id: string;
  advertiser_id: string | null;
  every_ms: number;
  next_run_at_ms: number;
  last_run_at_ms: number | null;
}

/** The tables Database gains from 0006_audiences and 0010_outbox_jobs. */
export interface AudienceTables {
  conversion_paths: ConversionPathsTable;
  audiences: AudiencesTable;
  audience_members: AudienceMembersTable;
  audience_sizes: AudienceSizesTable;
  audience_synced: AudienceSyncedTable;
  audience_schedules: AudienceSchedulesTable;
  holdouts: HoldoutsTable;
  holdout_entries: HoldoutEntriesTable;
}

/** A holdout of an audience or a campaign (0024_holdouts). */
export interface HoldoutsTable {
  id: string;
  env_id: string;
  name: string;
  subject_type: string;
  subject_id: string;
  salt: string;
  /** JSON list of `{from_ms, fraction}`, oldest first. */
  fractions: string;
  /** JSON list of event names. */
  conversion_events: string;
  created_at_ms: number;
  updated_at_ms: number;
}

/** Who entered a holdout's test, and when (Unix seconds); the first entry stays. */
export interface HoldoutEntriesTable {
  env_id: string;
  holdout_id: string;
  person: string;
  entered_at: number;
}
