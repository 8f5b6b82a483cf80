import type {
  ApplePostback,
  PostbackFramework,
  UnverifiedReason,
  Verification,
} from '../domain/apple-postback.js';
import type { PostbackGroup } from '../domain/skan-report.js';

/** A postback to store: what it says (null when unreadable) and its verification. */
export interface NewPostback {
  /** The advertised app's environment; '' when no environment claims the app. */
  env_id: string;
  framework: PostbackFramework;
  postback: ApplePostback | null;
  verification: Verification;
  /** The body as received. */
  body: string;
  /** Hex SHA-256 of the canonical body: copies of one postback share it. */
  body_sha256: string;
  received_at_ms: number;
  /** How much of what is not verified (a conflicting replay included) is kept as rows. */
  sample: UnverifiedSample;
}

/**
 * Unverified postbacks are kept as a sample: anyone can post them, and each distinct body
 * would be a row. Beyond `per_hour` rows per environment and hour they are only counted.
 */
export interface UnverifiedSample {
  per_hour: number;
  /** A kept unverified body is cut to this many characters (Apple's are under 2 KB). */
  body_chars: number;
}

/** Unverified postbacks of an environment over some hours: received, and kept as rows. */
export interface UnverifiedCounts {
  received: number;
  kept: number;
}

/**
 * What storing a postback did. `duplicate`: an identical copy was stored already (its count
 * goes up). `conflict`: a verified postback with this transaction id was stored already and
 * this copy differs from it: stored apart, unverified (`conflicting_replay`), never counted.
 * `not_kept`: unverified (for `reason`), and the hour's sample of its environment is full:
 * counted, not stored.
 */
export type PostbackOutcome =
  | { outcome: 'stored'; id: number; verified: boolean }
  | { outcome: 'duplicate'; id: number }
  | { outcome: 'conflict'; id: number; original_id: number }
  | { outcome: 'not_kept'; reason: UnverifiedReason };

/** A stored postback as the admin API lists it. */
export interface PostbackRecord
  extends Omit<ApplePostback, 'framework' | 'ad_network_id' | 'app_id'> {
  id: number;
  /** null while no environment claims the app. */
  env_id: string | null;
  framework: PostbackFramework;
  ad_network_id: string | null;
  app_id: string | null;
  verified: boolean;
  /** Why it is not counted; null when verified. */
  reason: UnverifiedReason | null;
  reason_detail: string | null;
  /** The key that verified it (or whose check failed): apple-p256, apple-cas-identifier/0, test:ID… */
  key_id: string | null;
  received_at: string;
  /** Identical copies received after this one. */
  duplicates: number;
  /** The body as received. */
  body: string;
}

export interface PostbackFilter {
  /** The environment; '' lists postbacks no environment claims. */
  env_id: string;
  verified?: boolean;
  framework?: PostbackFramework;
  app_id?: string;
  /** Newest first; only those with a smaller id (the previous page's last). */
  before_id?: number;
  limit: number;
}

/** Verified postbacks of an environment counted by everything a report groups or decodes. */
export type PostbackCount = PostbackGroup;
