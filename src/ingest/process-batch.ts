import type { DestinationConfig, EnvironmentConfig } from '../config/config-types.js';
import {
  type AttributionDecision,
  attribute,
  type ConversionIdentity,
  type LinkedAnonymousId,
} from '../domain/attribution.js';
import { dedupStaleBefore, mergeDuplicate } from '../domain/dedup.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { eventKey } from '../domain/event-key.js';
import type { IngestTx } from '../store/store.js';

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
}

const CONSENT_DENIED = 'ads consent denied';

function strongKeys(
  e: TrackedEvent,
): Array<{ key_type: LinkedAnonymousId['via']; key_value: string }> {
  const keys: Array<{ key_type: LinkedAnonymousId['via']; key_value: string }> = [];
  if (e.user.user_id) keys.push({ key_type: 'user_id', key_value: e.user.user_id });
  if (e.user.email_sha256) keys.push({ key_type: 'email', key_value: e.user.email_sha256 });
  if (e.user.phone_sha256) keys.push({ key_type: 'phone', key_value: e.user.phone_sha256 });
  return keys;
}

function anonymousIds(e: TrackedEvent): string[] {
  return [...new Set([e.user.anonymous_id, e.user.cookie_id].filter((x): x is string => !!x))];
}

/** Remembers that a browser id belongs to a user id, email or phone, for later matching. */
async function linkIdentities(tx: IngestTx, e: TrackedEvent): Promise<void> {
  const keys = strongKeys(e);
  if (keys.length === 0) return;
  for (const anon of anonymousIds(e)) await tx.linkIdentity(e.env_id, keys, anon, e.event_time);
}

function subscribed(env: EnvironmentConfig, e: TrackedEvent): DestinationConfig[] {
  return env.destinations.filter((d) => d.events.includes(e.event_name));
}

/**
 * The converting person (with the browser ids linked to their user id, email or phone) and
 * every touch of theirs under any key in the `lookback_ms` before the event.
 */
export async function personTouches(
  tx: IngestTx,
  e: TrackedEvent,
  lookback_ms: number,
): Promise<{ who: ConversionIdentity; touches: Touch[] }> {
  const linked = await tx.findLinkedAnonymousIds(e.env_id, strongKeys(e));
  const touches = await tx.findTouches({
    env_id: e.env_id,
    user_id: e.user.user_id,
    anonymous_ids: [...new Set([...anonymousIds(e), ...linked.map((l) => l.anonymous_id)])],
    touch_ids: [e.user.click_id, e.user.imp_id].filter((x): x is string => !!x),
    ip: e.user.ip,
    since: e.event_time - Math.ceil(lookback_ms / 1000),
  });
  return { who: { time: e.event_time, user: e.user, linked }, touches };
}

async function decide(
  tx: IngestTx,
  e: TrackedEvent,
  dests: DestinationConfig[],
): Promise<Map<string, AttributionDecision>> {
  const out = new Map<string, AttributionDecision>();
  if (e.consent.ads === false) {
    for (const d of dests) out.set(d.id, { attributed: false, reason: CONSENT_DENIED });
    return out;
  }
  const widest = Math.max(...dests.map((d) => Math.max(d.click_window_ms, d.view_window_ms)));
  const { who, touches } = await personTouches(tx, e, widest);
  for (const d of dests) {
    out.set(
      d.id,
      attribute(who, touches, {
        dest_id: d.id,
        click_window_ms: d.click_window_ms,
        view_window_ms: d.view_window_ms,
      }),
    );
  }
  return out;
}

async function recordConversions(
  tx: IngestTx,
  pk: string,
  e: TrackedEvent,
  dests: DestinationConfig[],
  nowMs: number,
): Promise<number> {
  if (dests.length === 0) return 0;
  const decisions = await decide(tx, e, dests);
  const conversion_id = `cv_${pk.slice(3)}`;
  for (const d of dests) {
    const decision = decisions.get(d.id) as AttributionDecision;
    await tx.putConversion({
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
    const consentOk = decision.attributed || decision.reason !== CONSENT_DENIED;
    if (!e.test_code && consentOk && (decision.attributed || !d.attributed_only)) {
      // A batching destination waits up to max_wait so its rows go out together.
      await tx.enqueueDelivery(e.env_id, conversion_id, d.id, nowMs, nowMs + d.batch.max_wait_ms);
    }
  }
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
) {
  const open = (await tx.conversionsOfEvent(pk)).filter(
    (c) => !c.attribution && c.reason !== CONSENT_DENIED,
  );
  const dests = subscribed(env, merged).filter((d) => open.some((c) => c.dest_id === d.id));
  if (dests.length === 0) return;
  const decisions = await decide(tx, merged, dests);
  for (const d of dests) {
    const decision = decisions.get(d.id);
    const c = open.find((x) => x.dest_id === d.id);
    if (!decision?.attributed || !c) continue;
    await tx.putConversion({ ...c, attribution: decision.attribution, reason: null });
    if (d.attributed_only && !merged.test_code) {
      await tx.enqueueDelivery(c.env_id, c.conversion_id, d.id, nowMs, nowMs + d.batch.max_wait_ms);
    }
  }
}

async function processEvent(
  tx: IngestTx,
  e: TrackedEvent,
  ctx: BatchContext,
): Promise<EventOutcome> {
  const env = ctx.environment(e.env_id);
  const nowS = Math.floor(ctx.nowMs / 1000);
  const pk = eventKey(ctx.nowMs, ctx.newId(''));
  const holder = await tx.claimDedup(
    e.env_id,
    e.event_name,
    e.event_id,
    pk,
    nowS,
    dedupStaleBefore(nowS),
  );
  if (holder) {
    const stored = await tx.getEvent(holder);
    if (stored) {
      const { merged, changed } = mergeDuplicate(stored.event, e);
      await tx.updateDuplicate(stored.pk, merged);
      if (changed) {
        await linkIdentities(tx, merged);
        if (env) await reattribute(tx, stored.pk, merged, env, ctx.nowMs);
      }
      return { status: 'duplicate', of: stored.pk };
    }
  }
  await tx.insertEvent(pk, e, ctx.nowMs);
  await linkIdentities(tx, e);
  const conversions = env ? await recordConversions(tx, pk, e, subscribed(env, e), ctx.nowMs) : 0;
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
  for (const e of events) outcomes.push(await processEvent(tx, e, ctx));
  return outcomes;
}
