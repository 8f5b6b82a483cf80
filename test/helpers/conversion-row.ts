import type { Insertable } from 'kysely';
import type { ConversionsTable } from '../../src/store/schema.js';

/**
 * One `conversions` row of env `env`, written straight into a store: a conversion has one per
 * destination, credited or not; d1's is the deduplicated view's unless `more` says otherwise.
 */
export function conversionRow(
  conversion_id: string,
  dest_id: string,
  attributed: number,
  more: Partial<Insertable<ConversionsTable>> = {},
): Insertable<ConversionsTable> {
  return {
    conversion_id,
    dest_id,
    env_id: 'env',
    event_pk: `pk-${conversion_id}`,
    event_name: 'Purchase',
    event_id: conversion_id,
    event_time: 1_700_000_000,
    value: null,
    currency: null,
    attributed,
    attribution: null,
    reason: null,
    created_at_ms: 0,
    attr_type: null,
    campaign_id: null,
    creative_id: null,
    match_type: null,
    is_test: 0,
    dedup_row: dest_id === 'd1' ? 1 : 0,
    fraud: null,
    fraud_verdicts: null,
    ...more,
  };
}
