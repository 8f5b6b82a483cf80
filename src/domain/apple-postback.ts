import { createHash } from 'node:crypto';

/** Apple's two privacy-preserving attribution frameworks (issue 25). */
export type PostbackFramework = 'skadnetwork' | 'adattributionkit';

export const COARSE_VALUES = ['low', 'medium', 'high'] as const;
export type CoarseValue = (typeof COARSE_VALUES)[number];

/**
 * What one Apple postback says, read from its body whatever its verification. Field names
 * are ours; each notes the postback parameter it comes from. Identifiers stay strings: App
 * Store ids reach 11 digits and campaign ids are the ad network's to define.
 */
export interface ApplePostback {
  framework: PostbackFramework;
  /** SKAdNetwork `version` (`1.0` when absent, as version 1 postbacks are); AdAttributionKit: null. */
  version: string | null;
  /** SKAdNetwork `transaction-id`, AdAttributionKit `postback-identifier`: the dedup key. */
  transaction_id: string;
  /** `ad-network-id` / `ad-network-identifier`. */
  ad_network_id: string;
  /** The advertised app: `app-id` / `advertised-item-identifier` (its App Store id). */
  app_id: string;
  /** SKAdNetwork 1–3 `campaign-id` (1–100). */
  campaign_id: string | null;
  /** SKAdNetwork 4 and AdAttributionKit `source-identifier`: 2, 3 or 4 digits (crowd anonymity). */
  source_identifier: string | null;
  /** `source-app-id` / `publisher-item-identifier`: the app that showed the ad. */
  source_app_id: string | null;
  /** SKAdNetwork 4 `source-domain`: the site that showed a web ad. */
  source_domain: string | null;
  /** `conversion-value`: the fine value 0–63. */
  fine_value: number | null;
  /** `coarse-conversion-value`. */
  coarse_value: CoarseValue | null;
  /** `postback-sequence-index`: 0, 1 or 2, the conversion window; 0 before SKAdNetwork 4. */
  sequence_index: number;
  /** `did-win`; null before SKAdNetwork 3, whose postbacks all won. */
  did_win: boolean | null;
  /** SKAdNetwork `redownload`; AdAttributionKit says `conversion-type: redownload`. */
  redownload: boolean | null;
  /** AdAttributionKit `conversion-type`: download, redownload or re-engagement. */
  conversion_type: string | null;
  /** SKAdNetwork 2.2+ `fidelity-type`: 1 StoreKit-rendered (click), 0 view-through. */
  fidelity_type: number | null;
  /** AdAttributionKit `ad-interaction-type`: click or view. */
  interaction_type: string | null;
  /** `country-code`, when the postback carries one. */
  country_code: string | null;
  /** AdAttributionKit `marketplace-identifier`: the store the app came from. */
  marketplace_id: string | null;
}

/** Why a postback is not counted. */
export type UnverifiedReason =
  /** The body is not a postback of the framework (a field missing or of the wrong type). */
  | 'malformed'
  /** A SKAdNetwork version whose signature we do not know how to check. */
  | 'unsupported_version'
  /** The signature does not verify with the key for its version (or any trusted test key). */
  | 'bad_signature'
  /** An AdAttributionKit JWS signed with a key id we do not know. */
  | 'unknown_key'
  /** Signed with Apple's development key, and development postbacks are not accepted. */
  | 'development_key'
  /** Verified, but the advertised app is in no environment (`apps`). */
  | 'unknown_app'
  /** The same transaction id was already stored, verified, with a different body. */
  | 'conflicting_replay';

/** The result of checking a postback's signature. */
export type Verification =
  | { verified: true; key_id: string }
  | { verified: false; reason: UnverifiedReason; detail: string; key_id: string | null };

/** A trusted public key beyond Apple's (`apple_postbacks.test_keys`): never replaces one. */
export interface TrustedKey {
  /** Recorded as `test:<id>` on what it verifies; AdAttributionKit matches it to the JWS `kid`. */
  id: string;
  /** Base64 DER SubjectPublicKeyInfo, the form Apple publishes its own keys in. */
  public_key: string;
}

/** What a receiver trusts besides Apple's production keys. */
export interface PostbackTrust {
  test_keys: readonly TrustedKey[];
  /** Count AdAttributionKit postbacks signed with Apple's development keys (default false). */
  accept_development: boolean;
}

/** The config's `apple_postbacks`: what is trusted, and how much of the rest is kept. */
export interface ApplePostbacksConfig extends PostbackTrust {
  /**
   * Unverified postbacks kept as rows per environment and hour; the rest are counted only
   * (anyone can post them, and each distinct body would be a row). 0 keeps none.
   */
  unverified_kept_per_hour: number;
}

/** A postback read and checked: what it says (null when unreadable) and its verdict. */
export interface CheckedPostback {
  postback: ApplePostback | null;
  verification: Verification;
}

/**
 * The body as canonical JSON (keys sorted at every level): two copies of one postback are the
 * same whatever order or spacing a forwarder gave them, so a replay is told from a change.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Hex SHA-256 of the canonical body. */
export function bodyDigest(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** A failed verification. */
export function unverified(
  reason: UnverifiedReason,
  detail: string,
  key_id: string | null = null,
): Verification {
  return { verified: false, reason, detail, key_id };
}
