import type { CandidateSource } from '../../domain/audience-candidates.js';
import type {
  AudienceRecord,
  AudienceSchedule,
  AudienceSyncJob,
  ConversionPathRecord,
  ExportIds,
  KeyedSyncJob,
  MemberKeyType,
  MembershipRow,
  PersonIds,
  PersonRecords,
} from '../audience-records.js';
import type { AttemptRecord, OutboxRecord, StoredEvent } from '../records.js';

/** Stored multi-touch paths and the conversion events they were built from (issue 9). */
export interface ConversionPathsPort {
  /** Conversion paths whose conversion happened in [from_s, to_s), oldest first. */
  listConversionPaths(
    env_id: string,
    from_s: number,
    to_s: number,
  ): Promise<ConversionPathRecord[]>;
  /**
   * The touch ids on the conversion paths of [from_s, to_s), each once, in no order: what a
   * report needs of the paths after its range (journeys-run.ts), without reading them whole.
   */
  pathTouchIds(env_id: string, from_s: number, to_s: number): Promise<string[]>;
  getConversionPath(env_id: string, conversion_id: string): Promise<ConversionPathRecord | null>;
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
}

/** Audience definitions and their size history. */
export interface AudienceDefinitionsPort {
  createAudience(a: AudienceRecord): Promise<void>;
  /**
   * A counter that every create, edit, recompute and delete of an audience moves on: other
   * processes poll it to drop the definitions they keep in memory.
   */
  audiencesVersion(): Promise<string>;
  /** Finds an audience by id alone (ids are random). */
  getAudience(id: string): Promise<AudienceRecord | null>;
  listAudiences(env_id: string): Promise<AudienceRecord[]>;
  markAudienceRecomputed(env_id: string, id: string, at_ms: number): Promise<void>;
  updateAudience(
    env_id: string,
    id: string,
    fields: Pick<AudienceRecord, 'name' | 'rules' | 'min_export_size'>,
  ): Promise<void>;
  /** Deletes the audience and everything kept for it (members, sizes, sync state, jobs). */
  deleteAudience(env_id: string, id: string): Promise<void>;
  /** Forgets every membership of the audience (before a recompute under new rules). */
  clearMemberships(env_id: string, audience_id: string): Promise<void>;
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
}

/** Persons and what they did, a page of identifiers at a time (an audience's full evaluation). */
export interface PersonPagesPort {
  /** personOf for each key of a page, in order. */
  personsOf(
    env_id: string,
    keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  ): Promise<PersonIds[]>;
  /**
   * Every user id seen with any of these browser ids. A browser shared by several users
   * belongs to its latest (personOf), but each of them has its records.
   */
  usersOf(env_id: string, anonymous_ids: readonly string[]): Promise<string[]>;
  /** personRecords for each person of a page, in order. */
  peopleRecords(
    env_id: string,
    persons: readonly PersonIds[],
    since_s: number,
    read?: RecordsRead,
  ): Promise<PersonRecords[]>;
}

/**
 * What of a person's records to read. `touches: false` (default true) answers no touches,
 * for rules that name none: their ad touches were the largest part of an audience's reads
 * (bench/RESULTS.md, issue 22's sixteenth round).
 */
export interface RecordsRead {
  touches?: boolean;
}

/** Persons and their audience memberships. */
export interface MembershipsPort {
  /** The identifiers of the person an identifier belongs to. */
  personOf(env_id: string, key_type: MemberKeyType, key_value: string): Promise<PersonIds>;
  /** What a person did since `since_s`. */
  personRecords(
    env_id: string,
    who: PersonIds,
    since_s: number,
    read?: RecordsRead,
  ): Promise<PersonRecords>;
  /**
   * Identifiers seen in events or touches since `since_s`, in pages after `after`; with
   * `only`, those with a record of one of these sources (events of the names, ad touches of
   * the kinds and campaigns).
   */
  identifiersSince(
    env_id: string,
    since_s: number,
    after: { key_type: MemberKeyType; key_value: string } | null,
    limit: number,
    only?: readonly CandidateSource[] | null,
  ): Promise<Array<{ key_type: MemberKeyType; key_value: string }>>;
  /** A page of a full evaluation's answers (rows to keep, keys to forget) in one transaction. */
  writeMemberships(
    env_id: string,
    audience_id: string,
    upsert: readonly MembershipRow[],
    remove: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
    now_ms: number,
  ): Promise<void>;
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
}

/** What audience syncs sent, the jobs they queue, and their schedules. */
export interface AudienceSyncPort {
  /** What the platform behind `dest_id` currently holds of this audience. */
  syncedPersons(
    env_id: string,
    audience_id: string,
    dest_id: string,
  ): Promise<Array<{ person: string; ids: ExportIds }>>;
  /**
   * Queues sync batches as outbox jobs (keys `job_keys[i]`) and records, in the same
   * transaction, that the platform is to hold `added` and no longer `removed`: the next sync
   * sends only what changed after this one. Answers the outbox ids.
   */
  enqueueAudienceSync(
    env_id: string,
    dest_id: string,
    jobs: readonly KeyedSyncJob[],
    added: ReadonlyArray<{ person: string; ids: ExportIds }>,
    removed: readonly string[],
    now_ms: number,
  ): Promise<number[]>;
  /** The audience's sync jobs, newest first, with their attempts. */
  listAudienceJobs(
    env_id: string,
    audience_id: string,
    limit: number,
  ): Promise<
    Array<{ outbox: OutboxRecord; job: AudienceSyncJob | null; attempts: AttemptRecord[] }>
  >;
  /** Replaces the audience's sync schedules. */
  putSchedules(
    env_id: string,
    audience_id: string,
    schedules: readonly AudienceSchedule[],
  ): Promise<void>;
  listSchedules(env_id: string, audience_id: string): Promise<AudienceSchedule[]>;
  /**
   * Takes the schedules due by `now_ms` and moves each to its next run; a schedule another
   * process took first is not answered, so each run happens once.
   */
  claimDueSchedules(
    now_ms: number,
    limit: number,
  ): Promise<Array<AudienceSchedule & { env_id: string; audience_id: string }>>;
}

/** The Store port's part for attribution paths and audiences (issue 9). */
export interface AudienceStore
  extends ConversionPathsPort,
    AudienceDefinitionsPort,
    MembershipsPort,
    PersonPagesPort,
    AudienceSyncPort {}
