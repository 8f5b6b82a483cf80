import type { Insertable, Selectable } from 'kysely';
import { type Attribution, matchTypeOf } from '../../domain/attribution.js';
import type { Touch, TouchKind, TrackedEvent, Traffic } from '../../domain/event.js';
import type { InstallVerdicts } from '../../domain/install-verdicts.js';
import type { TrafficSource } from '../../domain/traffic-source.js';
import type {
  ConversionsTable,
  DeliveryAttemptsTable,
  EventsTable,
  OutboxTable,
  TouchesTable,
} from '../schema.js';
import type {
  AttemptRecord,
  ConversionRecord,
  FailedFor,
  OutboxRecord,
  OutboxStatus,
  StoredEvent,
} from '../store.js';
import { type OUTBOX_RECORD_COLUMNS, storedTraffic, TOUCH_COLUMNS } from './ingest-columns.js';

// PostgreSQL returns bigint as string; SQLite as number. Both come out as number.
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function touchFromRow(r: Selectable<TouchesTable>): Touch {
  return {
    env_id: r.env_id,
    kind: r.kind as TouchKind,
    touch_id: r.touch_id,
    dest_id: r.dest_id,
    campaign_id: r.campaign_id,
    creative_id: r.creative_id,
    placement_id: r.placement_id,
    time: num(r.time),
    anonymous_id: r.anonymous_id,
    user_id: r.user_id,
    ip: r.ip,
    user_agent: r.user_agent,
    ...(r.traffic ? { traffic: r.traffic as Traffic } : {}),
    ...(r.traffic_source ? { traffic_source: JSON.parse(r.traffic_source) as TrafficSource } : {}),
  };
}

/** Where each column of a touch is in a lookup's row of values (TOUCH_COLUMNS order). */
const AT = Object.fromEntries(TOUCH_COLUMNS.map((c, i) => [c, i])) as Record<
  (typeof TOUCH_COLUMNS)[number],
  number
>;

/**
 * A touch from its row's values in TOUCH_COLUMNS order (a lookup's rows as arrays, cheaper
 * than objects on SQLite; see IngestStatements.arrays), as touchFromRow makes it.
 */
export function touchFromValues(v: readonly unknown[]): Touch {
  const text = (c: keyof typeof AT) => v[AT[c]] as string;
  const textOrNull = (c: keyof typeof AT) => v[AT[c]] as string | null;
  const traffic = textOrNull('traffic');
  const source = textOrNull('traffic_source');
  return {
    env_id: text('env_id'),
    kind: text('kind') as TouchKind,
    touch_id: text('touch_id'),
    dest_id: textOrNull('dest_id'),
    campaign_id: textOrNull('campaign_id'),
    creative_id: textOrNull('creative_id'),
    placement_id: textOrNull('placement_id'),
    time: num(v[AT.time]),
    anonymous_id: textOrNull('anonymous_id'),
    user_id: textOrNull('user_id'),
    ip: textOrNull('ip'),
    user_agent: textOrNull('user_agent'),
    ...(traffic ? { traffic: traffic as Traffic } : {}),
    ...(source ? { traffic_source: JSON.parse(source) as TrafficSource } : {}),
  };
}

export function eventToRow(
  pk: string,
  e: TrackedEvent,
  received_at_ms: number,
): Insertable<EventsTable> {
  return {
    pk,
    env_id: e.env_id,
    event_name: e.event_name,
    event_id: e.event_id,
    event_time: e.event_time,
    received_at_ms,
    source: e.source,
    anonymous_id: e.user.anonymous_id ?? null,
    user_id: e.user.user_id ?? null,
    value: e.properties.value ?? null,
    currency: e.properties.currency ?? null,
    data: JSON.stringify(e),
    duplicate_count: 0,
    traffic: storedTraffic(e.traffic),
    // A later copy merged in never changes it: the first copy's test code stays (dedup.ts).
    is_test: e.test_code ? 1 : 0,
  };
}

/**
 * eventToRow's values in EVENT_COLUMNS order, made directly: the row object, and an array
 * mapped from it by a closure, were garbage for every event a statement writes (issue 22).
 */
export function eventValues(pk: string, e: TrackedEvent, received_at_ms: number): unknown[] {
  return [
    pk,
    e.env_id,
    e.event_name,
    e.event_id,
    e.event_time,
    received_at_ms,
    e.source,
    e.user.anonymous_id ?? null,
    e.user.user_id ?? null,
    e.properties.value ?? null,
    e.properties.currency ?? null,
    JSON.stringify(e),
    0,
    storedTraffic(e.traffic),
    e.test_code ? 1 : 0,
  ];
}

export function eventFromRow(r: Selectable<EventsTable>): StoredEvent {
  return {
    pk: r.pk,
    received_at_ms: num(r.received_at_ms),
    duplicate_count: num(r.duplicate_count),
    event: JSON.parse(r.data) as TrackedEvent,
  };
}

export function conversionToRow(c: ConversionRecord): ConversionsTable {
  return {
    conversion_id: c.conversion_id,
    dest_id: c.dest_id,
    env_id: c.env_id,
    event_pk: c.event_pk,
    event_name: c.event_name,
    event_id: c.event_id,
    event_time: c.event_time,
    value: c.value,
    currency: c.currency,
    attributed: c.attribution ? 1 : 0,
    attribution: c.attribution ? JSON.stringify(c.attribution) : null,
    reason: c.reason,
    created_at_ms: c.created_at_ms,
    attr_type: c.attribution?.type ?? null,
    campaign_id: c.attribution?.campaign_id ?? null,
    creative_id: c.attribution?.creative_id ?? null,
    match_type: c.attribution?.match_type ?? null,
    is_test: c.test ? 1 : 0,
    dedup_row: c.dedup_row ? 1 : 0,
    fraud: c.fraud?.length ? JSON.stringify(c.fraud) : null,
    fraud_verdicts: c.fraud_verdicts ? JSON.stringify(c.fraud_verdicts) : null,
  };
}

/** conversionToRow's values in CONVERSION_COLUMNS order, made directly (see eventValues). */
export function conversionValues(c: ConversionRecord): unknown[] {
  const a = c.attribution;
  return [
    c.conversion_id,
    c.dest_id,
    c.env_id,
    c.event_pk,
    c.event_name,
    c.event_id,
    c.event_time,
    c.value,
    c.currency,
    a ? 1 : 0,
    a ? JSON.stringify(a) : null,
    c.reason,
    c.created_at_ms,
    a?.type ?? null,
    a?.campaign_id ?? null,
    a?.creative_id ?? null,
    c.test ? 1 : 0,
    a?.match_type ?? null,
    c.dedup_row ? 1 : 0,
    c.fraud?.length ? JSON.stringify(c.fraud) : null,
    c.fraud_verdicts ? JSON.stringify(c.fraud_verdicts) : null,
  ];
}

/** A stored attribution; rows written before `match_type` existed get it from their key. */
function attributionFromJson(text: string): Attribution {
  const a = JSON.parse(text) as Omit<Attribution, 'match_type'> & Partial<Attribution>;
  return { ...a, match_type: a.match_type ?? matchTypeOf(a.match_key) };
}

export function conversionFromRow(r: Selectable<ConversionsTable>): ConversionRecord {
  return {
    conversion_id: r.conversion_id,
    dest_id: r.dest_id,
    env_id: r.env_id,
    event_pk: r.event_pk,
    event_name: r.event_name,
    event_id: r.event_id,
    event_time: num(r.event_time),
    value: r.value === null ? null : Number(r.value),
    currency: r.currency,
    attribution: r.attribution ? attributionFromJson(r.attribution) : null,
    reason: r.reason,
    created_at_ms: num(r.created_at_ms),
    ...(num(r.is_test) === 1 ? { test: true } : {}),
    ...(num(r.dedup_row) === 1 ? { dedup_row: true } : {}),
    ...(r.fraud ? { fraud: JSON.parse(r.fraud) as string[] } : {}),
    ...(r.fraud_verdicts
      ? { fraud_verdicts: JSON.parse(r.fraud_verdicts) as InstallVerdicts }
      : {}),
  };
}

export function outboxFromRow(
  r: Pick<Selectable<OutboxTable>, (typeof OUTBOX_RECORD_COLUMNS)[number]>,
): OutboxRecord {
  return {
    id: num(r.id),
    env_id: r.env_id,
    conversion_id: r.conversion_id,
    dest_id: r.dest_id,
    kind: r.kind,
    status: r.status as OutboxStatus,
    attempts: num(r.attempts),
    next_attempt_at_ms: num(r.next_attempt_at_ms),
    first_attempt_at_ms: numOrNull(r.first_attempt_at_ms),
    last_status: numOrNull(r.last_status),
    last_error: r.last_error,
    created_at_ms: num(r.created_at_ms),
    updated_at_ms: num(r.updated_at_ms),
    delivered_at_ms: numOrNull(r.delivered_at_ms),
    failed_for: (r.failed_for as FailedFor | null) ?? null,
  };
}

export function attemptFromRow(r: Selectable<DeliveryAttemptsTable>): AttemptRecord {
  return {
    outbox_id: num(r.outbox_id),
    env_id: r.env_id,
    at_ms: num(r.at_ms),
    duration_ms: num(r.duration_ms),
    status_code: numOrNull(r.status_code),
    error: r.error,
    verdict: r.verdict,
    response_excerpt: r.response_excerpt,
  };
}
