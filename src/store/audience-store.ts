import type { PersonEvent, PersonTouch } from '../domain/audience-rules.js';
import type { MatchedTouch } from '../domain/conversion-path.js';
import type { StoredEvent } from './store.js';

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

/** One audience sync request and its outcome, for the sync log. */
export interface SyncAttemptRecord {
  env_id: string;
  id: string;
  audience_id: string;
  dest_id: string;
  action: 'add' | 'remove';
  rows: number;
  /** 1 for the first try of a request, 2 for its first retry… */
  attempt: number;
  at_ms: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  verdict: string;
  response_excerpt: string | null;
}

/** The Store port's part for attribution paths and audiences (issue 9). */
export interface AudienceStore {
  /** Conversion paths whose conversion happened in [from_s, to_s), oldest first. */
  listConversionPaths(
    env_id: string,
    from_s: number,
    to_s: number,
  ): Promise<ConversionPathRecord[]>;
  getConversionPath(env_id: string, conversion_id: string): Promise<ConversionPathRecord | null>;
  /** Writes (or replaces) conversion paths outside ingest, for `attribution recompute`. */
  putConversionPaths(paths: readonly ConversionPathRecord[]): Promise<void>;
  /**
   * Stored conversion events in [from_s, to_s), one per conversion id, after `after`
   * (a conversion id) in id order; a page of at most `limit`.
   */
  conversionEvents(
    env_id: string,
    from_s: number,
    to_s: number,
    after: string | null,
    limit: number,
  ): Promise<Array<{ conversion_id: string; stored: StoredEvent }>>;
  countConversionEvents(env_id: string, from_s: number, to_s: number): Promise<number>;

  createAudience(a: AudienceRecord): Promise<void>;
  /** Finds an audience by id alone (ids are random). */
  getAudience(id: string): Promise<AudienceRecord | null>;
  listAudiences(env_id: string): Promise<AudienceRecord[]>;
  markAudienceRecomputed(env_id: string, id: string, at_ms: number): Promise<void>;

  /** The identifiers of the person an identifier belongs to. */
  personOf(env_id: string, key_type: MemberKeyType, key_value: string): Promise<PersonIds>;
  /** What a person did since `since_s`. */
  personRecords(env_id: string, who: PersonIds, since_s: number): Promise<PersonRecords>;
  /** Identifiers seen in events or touches since `since_s`, in pages after `after`. */
  identifiersSince(
    env_id: string,
    since_s: number,
    after: { key_type: MemberKeyType; key_value: string } | null,
    limit: number,
  ): Promise<Array<{ key_type: MemberKeyType; key_value: string }>>;

  upsertMemberships(
    env_id: string,
    audience_id: string,
    rows: readonly MembershipRow[],
    now_ms: number,
  ): Promise<void>;
  /** Forgets identifiers whose answer is "no" until new data arrives (a missing row says no). */
  deleteMemberships(
    env_id: string,
    audience_id: string,
    keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  ): Promise<void>;
  /** One indexed single-row read: the real-time retargeting lookup. */
  getMembership(
    env_id: string,
    audience_id: string,
    key_type: MemberKeyType,
    key_value: string,
  ): Promise<MembershipRow | null>;
  /** Identifiers whose answer may have changed with time by `now_s` (changes_at passed). */
  membershipsDue(
    env_id: string,
    audience_id: string,
    now_s: number,
    limit: number,
  ): Promise<Array<{ key_type: MemberKeyType; key_value: string }>>;
  /** Members, one row per person, with the hashes known for them. */
  audienceMembers(env_id: string, audience_id: string): Promise<MembershipRow[]>;
  /** Distinct persons currently members. */
  audienceSize(env_id: string, audience_id: string): Promise<number>;
  recordAudienceSize(
    env_id: string,
    audience_id: string,
    at_ms: number,
    size: number,
  ): Promise<void>;
  /** Size history, oldest first, at most `limit` latest points. */
  audienceSizes(
    env_id: string,
    audience_id: string,
    limit: number,
  ): Promise<Array<{ at_ms: number; size: number }>>;

  /** What the platform behind `dest_id` currently holds of this audience. */
  syncedPersons(
    env_id: string,
    audience_id: string,
    dest_id: string,
  ): Promise<Array<{ person: string; ids: ExportIds }>>;
  markSynced(
    env_id: string,
    audience_id: string,
    dest_id: string,
    added: ReadonlyArray<{ person: string; ids: ExportIds }>,
    removed: readonly string[],
    at_ms: number,
  ): Promise<void>;
  recordSyncAttempt(a: SyncAttemptRecord): Promise<void>;
  listSyncAttempts(
    env_id: string,
    audience_id: string,
    limit: number,
  ): Promise<SyncAttemptRecord[]>;
}
