import type { Generated } from 'kysely';

/**
 * SKAdNetwork and AdAttributionKit postbacks (migration 0026). Booleans are 0/1, null when
 * the postback's version does not carry them; `env_id` is '' for an app no environment claims.
 */
export interface ApplePostbacksTable {
  id: Generated<number>;
  env_id: string;
  framework: string;
  version: string | null;
  /** '' when the body had none (a malformed postback). */
  transaction_id: string;
  sequence_index: number;
  ad_network_id: string | null;
  app_id: string | null;
  campaign_id: string | null;
  source_identifier: string | null;
  source_app_id: string | null;
  source_domain: string | null;
  fine_value: number | null;
  coarse_value: string | null;
  did_win: number | null;
  redownload: number | null;
  conversion_type: string | null;
  fidelity_type: number | null;
  interaction_type: string | null;
  country_code: string | null;
  marketplace_id: string | null;
  verified: number;
  reason: string | null;
  reason_detail: string | null;
  key_id: string | null;
  /** The body as received (JSON), at most MAX_POSTBACK_BYTES; an unverified one cut shorter. */
  body: string;
  body_sha256: string;
  received_at_ms: number;
  duplicates: Generated<number>;
}

/**
 * Unverified postbacks per environment ('' for none) and hour (migration 0031): how many came,
 * and how many were kept as rows (the rest were counted only).
 */
export interface ApplePostbackSamplesTable {
  env_id: string;
  /** The hour's start, Unix ms. */
  hour_ms: number;
  received: number;
  kept: number;
}

export interface PostbackTables {
  apple_postbacks: ApplePostbacksTable;
  apple_postback_samples: ApplePostbackSamplesTable;
}
