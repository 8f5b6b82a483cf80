import { dedupStaleBefore } from './dedup.js';

/**
 * Unverified Apple postbacks are a sample kept to tell what was refused and why (anyone can
 * post them): a month is enough for that, and bounds what a sender can make us store.
 */
export const UNVERIFIED_POSTBACK_RETENTION_MS = 30 * 24 * 3_600_000;

/** What retention keeps (DESIGN §6): touches 90 d, events 400 d, dedup keys their window. */
export interface RetentionPolicy {
  touch_retention_ms: number;
  event_retention_ms: number;
}

/** The purge cutoffs at `nowMs`. */
export function retentionCutoffs(policy: RetentionPolicy, nowMs: number) {
  const nowS = Math.floor(nowMs / 1000);
  return {
    touches_before_s: nowS - Math.floor(policy.touch_retention_ms / 1000),
    events_before_ms: nowMs - policy.event_retention_ms,
    dedup_before_s: dedupStaleBefore(nowS),
    unverified_postbacks_before_ms:
      nowMs - Math.min(policy.event_retention_ms, UNVERIFIED_POSTBACK_RETENTION_MS),
  };
}
