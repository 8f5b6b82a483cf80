import type { PersonEvent, PersonTouch } from '../domain/audience-rules.js';
import type { MatchedTouch } from '../domain/conversion-path.js';

/** One touch of a stored conversion path, with how it was matched to the person. */
export type PathTouchRecord = MatchedTouch;

/** Every touch of the converting person inside the lookback, for multi-touch models. */
export interface ConversionPathRecord {
  env_id: string;
  conversion_id: string;
  event_pk: string;
  event_name: string;
  /** Unix seconds. */
  event_time: number;
  value: number | null;
  currency: string | null;
  lookback_s: number;
  /** Oldest first. */
  touches: PathTouchRecord[];
  created_at_ms: number;
}

/** A stored audience definition. */
export interface AudienceRecord {
  env_id: string;
  id: string;
  name: string;
  /** The rules JSON as accepted by parseRules. */
  rules: unknown;
  min_export_size: number;
  created_at_ms: number;
  recomputed_at_ms: number | null;
}

/** The identifiers a membership row is looked up by. */
export type MemberKeyType = 'anonymous_id' | 'user_id';

/** Membership of one identifier; every identifier of one person carries the same answer. */
export interface MembershipRow {
  key_type: MemberKeyType;
  key_value: string;
  /** `u:<user_id>` or `a:<anonymous_id>`: what the size counts once. */
  person: string;
  member: boolean;
  /** Unix seconds after which the answer must be evaluated again; null: only new data. */
  changes_at: number | null;
  email_sha256: string | null;
  /** SHA-256 of the E.164 digits without `+` (Meta). */
  phone_sha256: string | null;
  /** SHA-256 of `+` and the E.164 digits (Google, TikTok). */
  phone_e164_sha256: string | null;
}

/** One person: a user id with its linked browser ids, or a lone browser id. */
export interface PersonIds {
  user_id: string | null;
  anonymous_ids: string[];
}

/** A person's events (with the hashes they carried) and touches since some time. */
export interface PersonRecords {
  events: Array<
    PersonEvent & {
      email_sha256: string | null;
      phone_sha256: string | null;
      phone_e164_sha256: string | null;
    }
  >;
  touches: PersonTouch[];
}

/** Hashed identifiers of one person as sent to a platform. */
export interface ExportIds {
  extern_id_sha256: string;
  email_sha256: string | null;
  phone_sha256: string | null;
  phone_e164_sha256: string | null;
}

/** A scheduled sync of an audience to one destination. */
export interface AudienceSchedule {
  dest_id: string;
  /** Meta custom audience id, TikTok audience id, Google user list id. */
  platform_audience_id: string;
  /** TikTok only. */
  advertiser_id: string | null;
  every_ms: number;
  next_run_at_ms: number;
  last_run_at_ms: number | null;
}

/** Where a sync goes on the platform: its audience, and TikTok's advertiser. */
export interface SyncTarget {
  platform_audience_id: string;
  advertiser_id: string | null;
}

/** One add or remove batch of an audience sync: one request, queued as an outbox job. */
export interface AudienceSyncJob extends SyncTarget {
  audience_id: string;
  action: 'add' | 'remove';
  /** Empty once delivered: the hashed ids live no longer than their delivery. */
  persons: Array<{ person: string; ids: ExportIds }>;
  /** How many persons the batch carried (set once `persons` is emptied). */
  rows?: number;
}

/** The outbox kind of audience sync jobs. */
export const AUDIENCE_SYNC_KIND = 'audience_sync';

/** An audience sync job with the outbox key it is queued under (`<audience_id>:<job id>`). */
export interface KeyedSyncJob {
  key: string;
  job: AudienceSyncJob;
}

/**
 * What the platform behind one audience × destination may hold of an erased person: the
 * hashed ids sent, and every platform audience the audience's add batches there went to.
 */
export interface ErasedAudienceHold {
  audience_id: string;
  dest_id: string;
  targets: SyncTarget[];
  persons: Array<{ person: string; ids: ExportIds }>;
}

/**
 * Turns what platforms hold of an erased person into remove jobs, per destination; it runs
 * inside the erasure's transaction, so the jobs are queued with it or not at all.
 */
export type ErasureRemovals = (
  held: readonly ErasedAudienceHold[],
) => Array<{ dest_id: string } & KeyedSyncJob>;
