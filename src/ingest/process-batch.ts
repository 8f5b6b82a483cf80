import type { DestinationConfig, EnvironmentConfig } from '../config/config-types.js';
import {
  type AttributionDecision,
  attribute,
  type ConversionIdentity,
} from '../domain/attribution.js';
import { adsPermitted } from '../domain/consent.js';
import { dedupStaleBefore, mergeDuplicate } from '../domain/dedup.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { eventKey } from '../domain/event-key.js';
import {
  anonymousIds,
  pathLookbackS,
  pathRecord,
  personTouches,
  strongKeys,
} from '../reports/conversion-paths.js';
import type { ConversionPathRecord } from '../store/audience-store.js';
import type { ConversionRecord, DeliveryRequest, IngestTx } from '../store/store.js';
import { acceptRefusal, protectEvent } from './ingest-privacy.js';

/** One write of the ingest path. */
export type IngestItem = { kind: 'touch'; touch: Touch } | { kind: 'event'; event: TrackedEvent };

/** What became of one event. */
export type EventOutcome =
  | { status: 'accepted'; pk: string; conversions: number }
  | { status: 'duplicate'; of: string };

/** What the batch processor needs besides the transaction. */
export interface BatchContext {
  environment: (env_id: string) => EnvironmentConfig | undefined;
  nowMs: number;
  newId: (prefix: string) => string;
  /**
   * Awaited between two events of the batch: the pipeline lets other work run there when
   * the batch has held the thread long enough (SQLite runs a batch synchronously).
   */
  between?: () => Promise<void> | undefined;
}

const CONSENT_DENIED = 'ads consent denied';
const NOT_HUMAN = 'not human traffic (bot or prefetch): never credited';

/** True for the reasons `acceptRefusal` gives (a destination refusing browser-sent events). */
function isOriginRefusal(reason: string | null): boolean {
  return reason?.startsWith('browser-sent') ?? false;
}

/** What attribution read of the person, reused for the conversion's path. */
interface PathInput {
  who: ConversionIdentity;
  touches: Touch[];
  lookback_s: number;
}

/** Remembers that a browser id belongs to a user id, email or phone, for later matching. */
async function linkIdentities(tx: IngestTx, e: TrackedEvent): Promise<void> {
  if (!adsPermitted(e.consent) || (e.traffic && e.traffic !== 'human')) return;
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

function subscribed(env: EnvironmentConfig, e: TrackedEvent): DestinationConfig[] {
  return env.destinations.filter((d) => d.events.includes(e.event_name));
}

async function decide(
  tx: IngestTx,
  e: TrackedEvent,
  dests: DestinationConfig[],
): Promise<{ decisions: Map<string, AttributionDecision>; path: PathInput | null }> {
  const out = new Map<string, AttributionDecision>();
  if (!adsPermitted(e.consent)) {
    for (const d of dests) out.set(d.id, { attributed: false, reason: CONSENT_DENIED });
    return { decisions: out, path: null };
  }
  if (e.traffic && e.traffic !== 'human') {
    for (const d of dests) out.set(d.id, { attributed: false, reason: NOT_HUMAN });
    return { decisions: out, path: null };
  }
  const lookback_s = pathLookbackS(dests);
  const { who, touches } = await personTouches(tx, e, e.event_time - lookback_s);
  // Bots and prefetchers are never credited (their touches stay stored, flagged).
  const human = touches.filter((t) => !t.traffic || t.traffic === 'human');
  for (const d of dests) {
    const refusal = acceptRefusal(d.accept, e);
    if (refusal) {
      out.set(d.id, { attributed: false, reason: refusal });
      continue;
    }
    out.set(
      d.id,
      attribute(who, human, {
        dest_id: d.id,
        click_window_ms: d.click_window_ms,
        view_window_ms: d.view_window_ms,
      }),
    );
  }
  return { decisions: out, path: { who, touches, lookback_s } };
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
  return pathRecord(conversion_id, pk, e, who, path?.touches ?? [], path?.lookback_s ?? 0, nowMs);
}

async function recordConversions(
  tx: IngestTx,
  pk: string,
  e: TrackedEvent,
  dests: DestinationConfig[],
  nowMs: number,
  rawIp: string | undefined,
): Promise<number> {
  if (dests.length === 0) return 0;
  const { decisions, path } = await decide(tx, e, dests);
  const conversion_id = `cv_${pk.slice(3)}`;
  const conversions: ConversionRecord[] = [];
  const deliveries: DeliveryRequest[] = [];
  for (const d of dests) {
    const decision = decisions.get(d.id) as AttributionDecision;
    conversions.push({
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
      ...(e.test_code ? { test: true } : {}),
    });
    const refused =
      !decision.attributed &&
      (decision.reason === CONSENT_DENIED ||
        decision.reason === NOT_HUMAN ||
        acceptRefusal(d.accept, e) !== null);
    if (!e.test_code && !refused && (decision.attributed || !d.attributed_only)) {
      // A batching destination waits up to max_wait so its rows go out together.
      deliveries.push({
        env_id: e.env_id,
        conversion_id,
        dest_id: d.id,
        now_ms: nowMs,
        due_ms: nowMs + d.batch.max_wait_ms,
        ...(rawIp ? { raw_ip: rawIp } : {}),
      });
    }
  }
  await tx.recordConversion(pathOf(conversion_id, pk, e, path, nowMs), conversions, deliveries);
  return dests.length;
}

/**
 * A later copy may bring the cookie or email the first lacked: conversions left
 * unattributed get a second chance with the merged identity.
 */
async function reattribute(
  tx: IngestTx,
  pk: string,
  merged: TrackedEvent,
  env: EnvironmentConfig,
  nowMs: number,
  rawIp: string | undefined,
) {
  const open = (await tx.conversionsOfEvent(pk)).filter(
    (c) => !c.attribution && c.reason !== CONSENT_DENIED && c.reason !== NOT_HUMAN,
  );
  const dests = subscribed(env, merged).filter((d) => open.some((c) => c.dest_id === d.id));
  if (dests.length === 0) return;
  const { decisions, path } = await decide(tx, merged, dests);
  const conversion_id = open[0]?.conversion_id;
  if (conversion_id) await tx.putConversionPath(pathOf(conversion_id, pk, merged, path, nowMs));
  for (const d of dests) {
    const decision = decisions.get(d.id);
    const c = open.find((x) => x.dest_id === d.id);
    if (!decision || !c) continue;
    // Rows refused for their origin were never queued, whatever attributed_only says.
    const wasRefused = isOriginRefusal(c.reason);
    const due = nowMs + d.batch.max_wait_ms;
    if (decision.attributed) {
      await tx.putConversion({ ...c, attribution: decision.attribution, reason: null });
      if (!merged.test_code && (d.attributed_only || wasRefused))
        await tx.enqueueDelivery(c.env_id, c.conversion_id, d.id, nowMs, due, rawIp);
    } else if (wasRefused && !isOriginRefusal(decision.reason)) {
      // A server copy vouched for it: now it goes wherever unattributed conversions go.
      await tx.putConversion({ ...c, reason: decision.reason });
      if (!d.attributed_only && !merged.test_code)
        await tx.enqueueDelivery(c.env_id, c.conversion_id, d.id, nowMs, due, rawIp);
    }
  }
}

async function processEvent(
  tx: IngestTx,
  arrived: TrackedEvent,
  ctx: BatchContext,
): Promise<EventOutcome> {
  const env = ctx.environment(arrived.env_id);
  // The raw IP is never stored with the event; it rides only on the outbox rows of
  // deliveries whose platform matches on it, and is dropped once they are done.
  const e = protectEvent(arrived, env);
  const rawIp = e.user.ip !== arrived.user.ip ? arrived.user.ip : undefined;
  const nowS = Math.floor(ctx.nowMs / 1000);
  const pk = eventKey(ctx.nowMs, ctx.newId(''));
  const holder = await tx.claimAndInsertEvent(pk, e, ctx.nowMs, dedupStaleBefore(nowS));
  if (holder) {
    const stored = await tx.getEvent(holder);
    if (stored) {
      const { merged, changed } = mergeDuplicate(stored.event, e);
      // A server copy vouches for a browser copy of the same event.
      const vouched = !!e.verified && !merged.verified;
      if (vouched) merged.verified = e.verified;
      await tx.updateDuplicate(stored.pk, merged);
      if (changed || vouched) {
        await linkIdentities(tx, merged);
        if (env) await reattribute(tx, stored.pk, merged, env, ctx.nowMs, rawIp);
      }
      return { status: 'duplicate', of: stored.pk };
    }
    // The holder's event is gone (purged): this copy is stored under its own key.
    await tx.insertEvent(pk, e, ctx.nowMs);
  }
  await linkIdentities(tx, e);
  const conversions = env
    ? await recordConversions(tx, pk, e, subscribed(env, e), ctx.nowMs, rawIp)
    : 0;
  return { status: 'accepted', pk, conversions };
}

/**
 * Applies a batch of events in arrival order inside one transaction, so copies of one event
 * within the batch dedup against each other. Touches are committed before, on their own path.
 */
export async function processBatch(
  tx: IngestTx,
  events: readonly TrackedEvent[],
  ctx: BatchContext,
): Promise<EventOutcome[]> {
  const outcomes: EventOutcome[] = [];
  for (const e of events) {
    if (outcomes.length > 0) await ctx.between?.();
    outcomes.push(await processEvent(tx, e, ctx));
  }
  return outcomes;
}
