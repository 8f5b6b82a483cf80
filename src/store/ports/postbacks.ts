import type {
  NewPostback,
  PostbackCount,
  PostbackFilter,
  PostbackOutcome,
  PostbackRecord,
  UnverifiedCounts,
} from '../postback-records.js';

/** Apple's SKAdNetwork and AdAttributionKit postbacks (issue 25). */
export interface PostbacksPort {
  /**
   * Stores a postback once: an identical copy only counts a duplicate; a changed copy of a
   * verified postback (same transaction id and window) is stored unverified as a conflict.
   * What is unverified is kept up to `p.sample` per environment and hour, then only counted.
   * Atomic against concurrent copies on PostgreSQL too.
   */
  recordPostback(p: NewPostback): Promise<PostbackOutcome>;
  /** Unverified postbacks of an environment ('' for none) received from `from_ms` on. */
  unverifiedCounts(env_id: string, from_ms: number): Promise<UnverifiedCounts>;
  listPostbacks(f: PostbackFilter): Promise<PostbackRecord[]>;
  /** Verified postbacks of an environment received in [from_ms, to_ms), counted by group. */
  postbackCounts(env_id: string, from_ms: number, to_ms: number): Promise<PostbackCount[]>;
  /**
   * Gives the postbacks of these apps that no environment claimed yet to the app's
   * environment (an app added to `apps` after its postbacks came); returns how many moved.
   */
  claimPostbacks(apps: ReadonlyArray<{ app_id: string; env_id: string }>): Promise<number>;
}
