import type { Attribution, AttributionDecision, IdentityKey } from '../domain/attribution.js';
import type { DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';
import { adsPermitted } from '../domain/consent.js';
import type { ClearUserInfo } from '../domain/customer-info.js';
import { dedupStaleBefore, mergeDuplicate } from '../domain/dedup.js';
import { dedupRowIndex } from '../domain/dedup-credit.js';
import { isPersonTraffic, type TrackedEvent } from '../domain/event.js';
import { conversionIdOf, eventKey } from '../domain/event-key.js';
import type { FraudCheck } from '../domain/install-fraud.js';
import type {
  ConversionPathRecord,
  ConversionRecord,
  ConversionRows,
  DeliveryRequest,
  IngestTx,
} from '../store/store.js';
import type { BatchContext, EventOutcome, Timing } from './batch-context.js';
import { clearUserFor } from './clear-user-ride.js';
import { NO_PATH, pathRecord } from './conversion-paths.js';
import { type Decided, decide, firedChecks, NOT_HUMAN, type PathInput } from './decisions.js';
import { acceptRefusal, protectEvent } from './ingest-privacy.js';
import { eventChecks } from './install-checks.js';
import { CONSENT_DENIED, deliversTest, LIMITED_DATA_USE, settleLateCopy } from './late-copy.js';
import { deliveryDueMs } from './merge-window.js';
import { anonymousIds, strongKeys } from './person-lookup.js';

// One event inside the ingest transaction (processEvent, at the end): its dedup key claimed or
// merged into the copy already stored, then its conversions: who its person is, the
// attribution decision per destination, the rows written (path, conversions, deliveries), and
// the decisions taken again when a later copy brings a stronger identity.

/** True for the reasons `acceptRefusal` gives (a destination refusing browser-sent events). */
function isOriginRefusal(reason: string | null): boolean {
  return reason?.startsWith('browser-sent') ?? false;
}

/** True when the event's ids may be linked and its person looked up (consent, no bot). */
function linksPerson(e: TrackedEvent): boolean {
  return adsPermitted(e.consent) && isPersonTraffic(e.traffic);
}

/**
 * The strong keys whose links a new event reads: linkIdentities, where it has more than one,
 * and its conversions' person (decisionInput), where it has destinations. Read ahead for a
 * batch (SetWiseIngest.bufferLinks): a key left out here is still read, in a round trip of
 * its own, so the two must change together only for speed, never for what is decided.
 */
export function linkReadsOf(
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
): readonly IdentityKey[] {
  if (!linksPerson(e)) return [];
  const keys = strongKeys(e);
  return keys.length > 1 || dests.length > 0 ? keys : [];
}

/** Remembers that a browser id belongs to a user id, email or phone, for later matching. */
export async function linkIdentities(tx: IngestTx, e: TrackedEvent): Promise<void> {
  if (!linksPerson(e)) return;
  const keys = strongKeys(e);
  if (keys.length === 0) return;
  const anons = anonymousIds(e);
  // A user id and an email seen together (a server-side identify) join the browsers and
  // devices either was seen with, so a later conversion by any one of them matches.
  if (keys.length > 1)
    for (const l of await tx.findLinkedAnonymousIds(e.env_id, keys))
      if (!anons.includes(l.anonymous_id)) anons.push(l.anonymous_id);
  for (const anon of anons) await tx.linkIdentity(e.env_id, keys, anon, e.event_time);
}

/** Event names whose destinations are kept per environment (names are the sender's). */
const MAX_SUBSCRIPTION_NAMES = 1000;
/**
 * Each environment's destinations by event name, kept per config snapshot (snapshots are
 * frozen; an edit makes a new one): filtered for every event, they were a new array each, and
 * pathRules keeps its rules per array (issue 22).
 */
const subscriptions = new WeakMap<EnvironmentConfig, Map<string, readonly DestinationConfig[]>>();

/** The destinations that take the event's name (a shared list). */
export function subscribed(env: EnvironmentConfig, e: TrackedEvent): readonly DestinationConfig[] {
  let byName = subscriptions.get(env);
  if (byName === undefined) {
    byName = new Map();
    subscriptions.set(env, byName);
  }
  let dests = byName.get(e.event_name);
  if (dests === undefined) {
    dests = env.destinations.filter((d) => d.events.includes(e.event_name));
    // Full (a sender of many names): started again, so the names in use now are kept.
    if (byName.size >= MAX_SUBSCRIPTION_NAMES) byName.clear();
    byName.set(e.event_name, dests);
  }
  return dests;
}

/** Every touch of the person in the lookback, stored for multi-touch reports (issue 9). */
function pathOf(
  conversion_id: string,
  pk: string,
  e: TrackedEvent,
  path: PathInput | null,
  nowMs: number,
): ConversionPathRecord {
  const who = path?.who ?? { time: e.event_time, user: e.user, linked: [] };
  return pathRecord(conversion_id, pk, e, who, path?.touches ?? [], path?.rules ?? NO_PATH, nowMs);
}

/** The rows of a new event's conversion: path, one row per destination, deliveries. */
export function conversionRows(
  pk: string,
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
  { decisions, path, fraud, verdicts }: Decided,
  { nowMs, platforms, copies }: Timing,
  { rawIp, clearUser }: RideAlong,
): ConversionRows {
  const otherCopy = copies?.expectsOtherCopy(e.env_id, e.event_name, e.source, nowMs) ?? true;
  const conversion_id = conversionIdOf(pk);
  const conversions: ConversionRecord[] = [];
  const deliveries: DeliveryRequest[] = [];
  for (const d of dests) {
    const decision = decisions.get(d.id) as AttributionDecision;
    const row: ConversionRecord = {
      conversion_id,
      dest_id: d.id,
      env_id: e.env_id,
      event_pk: pk,
      event_name: e.event_name,
      event_id: e.event_id,
      event_time: e.event_time,
      value: e.properties.value ?? null,
      currency: e.properties.currency ?? null,
      attribution: decision.attributed ? decision.attribution : null,
      reason: decision.attributed ? null : decision.reason,
      created_at_ms: nowMs,
    };
    // Optional fields assigned, not spread from a literal made for each (issue 22).
    if (e.test_code) row.test = true;
    const flags = fraud?.get(d.id);
    if (flags) row.fraud = flags;
    const judged = verdicts?.get(d.id);
    if (judged) row.fraud_verdicts = judged;
    conversions.push(row);
    const refused =
      !decision.attributed &&
      (decision.reason === CONSENT_DENIED ||
        decision.reason === NOT_HUMAN ||
        acceptRefusal(d.accept, e) !== null);
    if (deliversTest(e, d, platforms) && !refused && (decision.attributed || !d.attributed_only)) {
      // Held for the merge window (copies merge into it) or the batch wait, the longer.
      const delivery: DeliveryRequest = {
        env_id: e.env_id,
        conversion_id,
        dest_id: d.id,
        now_ms: nowMs,
        due_ms: deliveryDueMs(d, nowMs, nowMs, otherCopy),
      };
      if (rawIp) delivery.raw_ip = rawIp;
      const clear = clearUserFor(d, clearUser, platforms);
      if (clear) delivery.clear_user = clear;
      deliveries.push(delivery);
    }
  }
  const dedup = conversions[dedupRowIndex(conversions)];
  if (dedup) dedup.dedup_row = true;
  return { path: pathOf(conversion_id, pk, e, path, nowMs), conversions, deliveries };
}

export async function recordConversions(
  tx: IngestTx,
  pk: string,
  e: TrackedEvent,
  env: EnvironmentConfig,
  at: Timing,
  ride: RideAlong,
): Promise<{ n: number; deliveries: number; fraud: FraudCheck[] }> {
  const dests = subscribed(env, e);
  if (dests.length === 0) return { n: 0, deliveries: 0, fraud: [] };
  const decided = await decide(tx, e, dests, eventChecks(e, env, at.apps, ride.rawIp));
  const rows = conversionRows(pk, e, dests, decided, at, ride);
  await tx.recordConversion(rows.path, rows.conversions, rows.deliveries);
  return {
    n: dests.length,
    deliveries: rows.deliveries.length,
    fraud: firedChecks(decided.fraud),
  };
}

/**
 * A later copy may bring the cookie or email the first lacked: the event's conversions are
 * decided again with the merged identity (DESIGN §6: what counts is the merged event).
 * Unattributed ones get a second chance; attributed ones may move to a stronger match — say
 * from the shared IP the server copy carried to the cookie of the browser copy. The merged
 * identity only adds keys, so a new decision is never weaker than the one it replaces — save
 * where a copy makes the credited touch ineligible (it reveals an iOS app event credited by
 * IP, or Play's install-begin time after the credited click): the credit is kept as it was,
 * since its delivery may have gone; its `fraud` flags are updated. Rows already queued keep
 * their place in the outbox; one already sent is not sent again.
 */
/** True when two attributions credit the same touch under the same key. */
function sameCredit(a: Attribution, b: Attribution): boolean {
  return (
    a.type === b.type &&
    a.imp_id === b.imp_id &&
    a.click_id === b.click_id &&
    a.touch_time === b.touch_time &&
    a.match_key === b.match_key
  );
}

/** Answers the event's conversions as it left them (every field it wrote is in them). */
export async function reattribute(
  tx: IngestTx,
  { pk, received_at_ms }: { pk: string; received_at_ms: number },
  merged: TrackedEvent,
  env: EnvironmentConfig,
  { nowMs, platforms, apps }: Timing,
  { rawIp, clearUser }: RideAlong,
): Promise<ConversionRecord[]> {
  const rows = await tx.conversionsOfEvent(merged.env_id, pk);
  const open = rows.filter(
    (c) => c.reason !== CONSENT_DENIED && c.reason !== LIMITED_DATA_USE && c.reason !== NOT_HUMAN,
  );
  const dests = subscribed(env, merged).filter((d) => open.some((c) => c.dest_id === d.id));
  if (dests.length === 0) return rows;
  const checks = eventChecks(merged, env, apps, rawIp);
  const { decisions, path, fraud, verdicts } = await decide(tx, merged, dests, checks);
  const conversion_id = open[0]?.conversion_id;
  if (conversion_id) await tx.putConversionPath(pathOf(conversion_id, pk, merged, path, nowMs));
  for (const d of dests) {
    const decision = decisions.get(d.id);
    const c = open.find((x) => x.dest_id === d.id);
    if (!decision || !c) continue;
    const flags = fraud?.get(d.id);
    const judged = verdicts?.get(d.id);
    if (
      JSON.stringify(flags ?? null) !== JSON.stringify(c.fraud ?? null) ||
      JSON.stringify(judged ?? null) !== JSON.stringify(c.fraud_verdicts ?? null)
    ) {
      if (flags) c.fraud = flags;
      else delete c.fraud;
      if (judged) c.fraud_verdicts = judged;
      else delete c.fraud_verdicts;
      await tx.putConversion(c);
    }
    // Rows refused for their origin were never queued, whatever attributed_only says.
    const wasRefused = isOriginRefusal(c.reason);
    const due = deliveryDueMs(d, received_at_ms, nowMs);
    const clear = clearUserFor(d, clearUser, platforms);
    if (c.attribution) {
      if (decision.attributed && !sameCredit(c.attribution, decision.attribution)) {
        c.attribution = decision.attribution;
        await tx.putConversion(c);
      }
    } else if (decision.attributed) {
      c.attribution = decision.attribution;
      c.reason = null;
      await tx.putConversion(c);
      if (deliversTest(merged, d, platforms) && (d.attributed_only || wasRefused))
        await tx.enqueueDelivery(c.env_id, c.conversion_id, d.id, nowMs, due, rawIp, clear);
    } else if (wasRefused && !isOriginRefusal(decision.reason)) {
      // A server copy vouched for it: now it goes wherever unattributed conversions go.
      c.reason = decision.reason;
      await tx.putConversion(c);
      if (!d.attributed_only && deliversTest(merged, d, platforms))
        await tx.enqueueDelivery(c.env_id, c.conversion_id, d.id, nowMs, due, rawIp, clear);
    }
  }
  await moveDedupRow(tx, rows);
  return rows;
}

/** A new credit may win across destinations: the deduplicated view then counts its row. */
async function moveDedupRow(tx: IngestTx, rows: ConversionRecord[]): Promise<void> {
  const pick = rows[dedupRowIndex(rows)];
  for (const c of rows) {
    if (!!c.dedup_row === (c === pick)) continue;
    c.dedup_row = c === pick;
    await tx.putConversion(c);
  }
}

/** What the outbox rows of an event may carry that the stored event does not. */
export interface RideAlong {
  rawIp: string | undefined;
  clearUser: ClearUserInfo | undefined;
}

// One event of a batch, written statement by statement: claimed or merged into the copy
// already stored, then its identity links and conversions (above).

/** An event as it is stored: protected, with its key and what its deliveries carry. */
export interface Arrival extends RideAlong {
  e: TrackedEvent;
  env: EnvironmentConfig | undefined;
  pk: string;
}

export function arrive(arrived: TrackedEvent, ctx: BatchContext): Arrival {
  const env = ctx.environment(arrived.env_id);
  // The raw IP is never stored with the event; it rides only on the outbox rows of
  // deliveries whose platform matches on it, and is dropped once they are done.
  const e = protectEvent(arrived, env);
  const rawIp = e.user.ip !== arrived.user.ip ? arrived.user.ip : undefined;
  // So are the clear name and address values, on the rows of the platforms that need them.
  const clearUser = arrived.clear_user;
  return { e, env, pk: eventKey(ctx.nowMs, ctx.newId('')), rawIp, clearUser };
}

export async function processEvent(
  tx: IngestTx,
  a: Arrival,
  ctx: BatchContext,
): Promise<EventOutcome> {
  const { e, env, pk, rawIp, clearUser } = a;
  const nowS = Math.floor(ctx.nowMs / 1000);
  const holder = await tx.claimAndInsertEvent(pk, e, ctx.nowMs, dedupStaleBefore(nowS));
  if (holder) {
    const stored = await tx.getEvent(holder);
    if (stored) {
      const { merged, changed, addedKeys } = mergeDuplicate(stored.event, e);
      // A server copy vouches for a browser copy of the same event.
      const vouched = !!e.verified && !merged.verified;
      if (vouched) merged.verified = e.verified;
      await tx.updateDuplicate(stored.pk, merged, changed || vouched ? ctx.nowMs : undefined);
      if (changed || vouched) {
        await linkIdentities(tx, merged);
        if (env) {
          // The rows as re-attribution wrote them: read once (about 20 µs a read on SQLite).
          const conversions = await reattribute(tx, stored, merged, env, ctx, a);
          const copy = { ...ctx, stored, merged, addedKeys, env, rawIp, clearUser };
          await settleLateCopy(tx, copy, conversions);
        }
      }
      return { status: 'duplicate', of: stored.pk };
    }
    // The holder's event is gone (purged): this copy is stored under its own key.
    await tx.insertEvent(pk, e, ctx.nowMs);
  }
  await linkIdentities(tx, e);
  const recorded = env
    ? await recordConversions(tx, pk, e, env, ctx, a)
    : { n: 0, deliveries: 0, fraud: [] };
  const outcome: EventOutcome = {
    status: 'accepted',
    pk,
    conversions: recorded.n,
    deliveries: recorded.deliveries,
  };
  if (recorded.fraud.length > 0) outcome.fraud = recorded.fraud;
  return outcome;
}
