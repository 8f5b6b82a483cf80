import { MAX_PROBABILISTIC_PATH_TOUCHES } from '../../domain/conversion-path.js';
import { isPersonTraffic, type Touch, type Traffic } from '../../domain/event.js';
import type { ConversionsTable, EventsTable, OutboxTable, TouchesTable } from '../schema.js';
import type { ConversionPathsTable } from '../schema-audiences.js';

/** Columns the ingest path writes or reads, in the order its statements list them. */
export const EVENT_COLUMNS = [
  'pk',
  'env_id',
  'event_name',
  'event_id',
  'event_time',
  'received_at_ms',
  'source',
  'anonymous_id',
  'user_id',
  'value',
  'currency',
  'data',
  'duplicate_count',
  'traffic',
  'is_test',
] as const satisfies ReadonlyArray<keyof EventsTable>;

export const CONVERSION_COLUMNS = [
  'conversion_id',
  'dest_id',
  'env_id',
  'event_pk',
  'event_name',
  'event_id',
  'event_time',
  'value',
  'currency',
  'attributed',
  'attribution',
  'reason',
  'created_at_ms',
  'attr_type',
  'campaign_id',
  'creative_id',
  'is_test',
  'match_type',
  'dedup_row',
  'fraud',
  'fraud_verdicts',
] as const satisfies ReadonlyArray<keyof ConversionsTable>;

export const PATH_COLUMNS = [
  'env_id',
  'conversion_id',
  'event_pk',
  'event_name',
  'event_time',
  'value',
  'currency',
  'lookback_s',
  'touches',
  'created_at_ms',
] as const satisfies ReadonlyArray<keyof ConversionPathsTable>;

/** The columns a touch is written with (all but its id), in the order the writers pack them. */
export const TOUCH_WRITE_COLUMNS = [
  'env_id',
  'kind',
  'touch_id',
  'dest_id',
  'campaign_id',
  'creative_id',
  'placement_id',
  'time',
  'anonymous_id',
  'user_id',
  'ip',
  'user_agent',
  'traffic',
  'traffic_source',
] as const satisfies ReadonlyArray<keyof TouchesTable & keyof Touch>;

/**
 * The `traffic` column of a touch or an event: a person's has none ('human' or absent), so
 * reads of people's touches say `traffic is null` along 0043's partial index, and of the rest
 * `traffic is not null` along 0032's.
 */
export function storedTraffic(traffic: Traffic | undefined): Traffic | null {
  return isPersonTraffic(traffic) ? null : traffic;
}

/** A touch as a row: its traffic source as JSON text. */
export function touchRow(t: Touch): Omit<TouchesTable, 'id'> {
  return {
    env_id: t.env_id,
    kind: t.kind,
    touch_id: t.touch_id,
    dest_id: t.dest_id ?? null,
    campaign_id: t.campaign_id ?? null,
    creative_id: t.creative_id ?? null,
    placement_id: t.placement_id ?? null,
    time: t.time,
    anonymous_id: t.anonymous_id ?? null,
    user_id: t.user_id ?? null,
    ip: t.ip ?? null,
    user_agent: t.user_agent ?? null,
    traffic: storedTraffic(t.traffic),
    traffic_source: t.traffic_source ? JSON.stringify(t.traffic_source) : null,
  };
}

export const TOUCH_COLUMNS = ['id', ...TOUCH_WRITE_COLUMNS] as const satisfies ReadonlyArray<
  keyof TouchesTable
>;

/** The outbox columns a queued delivery is inserted with. */
/** What an OutboxRecord is read from (outboxFromRow). */
export const OUTBOX_RECORD_COLUMNS = [
  'id',
  'env_id',
  'conversion_id',
  'dest_id',
  'kind',
  'status',
  'attempts',
  'next_attempt_at_ms',
  'first_attempt_at_ms',
  'last_status',
  'last_error',
  'created_at_ms',
  'updated_at_ms',
  'delivered_at_ms',
  'failed_for',
] as const satisfies ReadonlyArray<keyof OutboxTable>;

export const OUTBOX_INSERT_COLUMNS = [
  'env_id',
  'conversion_id',
  'dest_id',
  'raw_ip',
  'clear_user',
  'status',
  'attempts',
  'next_attempt_at_ms',
  'created_at_ms',
  'updated_at_ms',
] as const;

/**
 * What a second write of a conversion row changes: a later copy's re-attribution, and the
 * value and currency a later copy brings when the first had none (late-copy.ts).
 */
export const CONVERSION_CONFLICT = `on conflict ("env_id", "conversion_id", "dest_id") do update set
  "value" = excluded."value", "currency" = excluded."currency",
  "attributed" = excluded."attributed", "attribution" = excluded."attribution",
  "reason" = excluded."reason", "attr_type" = excluded."attr_type",
  "campaign_id" = excluded."campaign_id", "creative_id" = excluded."creative_id",
  "match_type" = excluded."match_type", "dedup_row" = excluded."dedup_row",
  "fraud" = excluded."fraud", "fraud_verdicts" = excluded."fraud_verdicts"`;

/** What a second write of a conversion's path changes. */
export const PATH_CONFLICT = `on conflict ("env_id", "conversion_id") do update set "touches" = excluded."touches",
  "lookback_s" = excluded."lookback_s", "value" = excluded."value",
  "currency" = excluded."currency"`;

/** Ad touches (impressions, clicks) read per lookup key; more than one person plausibly has. */
export const MAX_TOUCHES_PER_LOOKUP = 200;
/** Visits read per lookup key, apart from its ad touches: the newest, for conversion paths. */
export const MAX_VISITS_PER_LOOKUP = 100;
/**
 * Visits read by IP address: no more than a path keeps of the touches an address alone
 * matches (conversion-path.ts), since a visit earns no destination's credit (issue 22).
 */
export const MAX_IP_VISITS_PER_LOOKUP = MAX_PROBABILISTIC_PATH_TOUCHES;

// Named columns, not `*`: a prepared statement whose result columns change (a migration
// adding one) fails on every later run instead of being planned again.
export const TOUCH_SELECT = `select ${TOUCH_COLUMNS.map((c) => `"${c}"`).join(', ')}`;

/**
 * The conditions of the partial indexes a lookup reads (0030_touch_kinds), written as they
 * are: both planners use a partial index only when the query states its condition.
 */
export const AD_TOUCHES = `"kind" <> 'visit'`;
export const VISITS = `"kind" = 'visit'`;
/** The clicks' own partial indexes (0027_install_fraud). */
export const CLICKS = `"kind" = 'click'`;
/** Every touch is in one of these: a read by key without a kind reads both, one by one. */
export const TOUCH_KIND_CLASSES = [AD_TOUCHES, VISITS] as const;

/**
 * `and "time" >= floor`, or nothing. A lookup whose `since` is a column of another row (the
 * many lookups of PostgreSQL's set-wise read) bounds the day partitions only as each row is
 * read: the executor opens an index scan on every partition of the touches first, 90 days of
 * them once retention has filled the table, for each key's part. A floor that is a statement
 * parameter is known when the statement starts, so the partitions before it are never opened
 * (PostgreSQL's initial pruning). Below every lookup's own bound, it selects nothing less.
 */
function partitionFloor(floor: string | undefined): string {
  return floor === undefined ? '' : `and "time" >= ${floor} `;
}

/**
 * The newest touches of one environment since a time that match `where`: its ad touches
 * (one range of a partial (env_id, key, time) index) and, when `visits`, its visits apart,
 * each with its own bound, so visits never push an impression or a
 * click out of attribution (DESIGN §6). `env` and `since` are SQL: placeholders or columns;
 * placeholders are taken twice when `visits` (see touchLookupParams). `floor`, SQL that no
 * lookup's `since` is below, bounds the time too (see partitionFloor).
 */
export function touchLookupText(
  env: string,
  since: string,
  where: string,
  visits: boolean,
  floor?: string,
) {
  const part = (kind: string, limit: number, alias: string) =>
    `select * from (${TOUCH_SELECT} from "touches" where "env_id" = ${env} and "time" >= ${since}
    ${partitionFloor(floor)}and ${where} and ${kind} order by "time" desc limit ${limit}) as ${alias}`;
  const ads = part(AD_TOUCHES, MAX_TOUCHES_PER_LOOKUP, 'ads');
  return visits ? `${ads} union all ${part(VISITS, MAX_VISITS_PER_LOOKUP, 'visits')}` : ads;
}

/**
 * touchLookupText for the IP address (`where`): its newest ad touches and visits since
 * `ipSince`, the probabilistic windows' reach, and the newest ad touch between `since` and
 * `ipSince`, the nearest an unattributed reason names. A busy address (a carrier's NAT, an
 * office) has weeks of strangers' touches no destination could credit (issue 22). `select`
 * lists what each row gives (SQLite reads the ids alone, see TouchCache); `floor` as in
 * touchLookupText.
 */
export function ipLookupText(
  env: string,
  since: string,
  ipSince: string,
  where: string,
  select = TOUCH_SELECT,
  floor?: string,
) {
  const part = (kind: string, time: string, limit: number, alias: string) =>
    `select * from (${select} from "touches" where "env_id" = ${env} and ${time}
    ${partitionFloor(floor)}and ${where} and ${kind} order by "time" desc limit ${limit}) as ${alias}`;
  const recent = `"time" >= ${ipSince}`;
  return [
    part(AD_TOUCHES, recent, MAX_TOUCHES_PER_LOOKUP, 'ads'),
    part(AD_TOUCHES, `"time" >= ${since} and "time" < ${ipSince}`, 1, 'nearest_miss'),
    part(VISITS, recent, MAX_IP_VISITS_PER_LOOKUP, 'visits'),
  ].join(' union all ');
}

/** The parameters of an ipLookupText of placeholders, in its order. */
export function ipLookupParams(env: unknown, since: number, ipSince: number, ip: unknown) {
  return [env, ipSince, ip, env, since, ipSince, ip, env, ipSince, ip];
}

/** The parameters of a touchLookupText of placeholders: `key` after env and since, per part. */
export function touchLookupParams(
  base: readonly unknown[],
  key: readonly unknown[],
  visits: boolean,
) {
  const part = [...base, ...key];
  return visits ? [...part, ...part] : part;
}
