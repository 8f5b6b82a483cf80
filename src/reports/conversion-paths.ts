import type { DestinationConfig } from '../config/config-types.js';
import type { ConversionIdentity, LinkedAnonymousId } from '../domain/attribution.js';
import { conversionPathTouches } from '../domain/conversion-path.js';
import { deviceAnonymousIds } from '../domain/device-id.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { ConversionPathRecord, IngestTx, TouchLookup } from '../store/store.js';

/** Lookback of a path when an environment has no destination to take windows from. */
const DEFAULT_LOOKBACK_S = 7 * 86_400;

/**
 * A conversion path looks back as far as the widest click or view window of the
 * destinations that receive the event: the same touches last-touch delivery considers.
 */
export function pathLookbackS(dests: readonly DestinationConfig[]): number {
  const widest = Math.max(0, ...dests.map((d) => Math.max(d.click_window_ms, d.view_window_ms)));
  return widest > 0 ? Math.ceil(widest / 1000) : DEFAULT_LOOKBACK_S;
}

/** Ids of the event's person strong enough to link browser ids (DESIGN §6). */
export function strongKeys(
  e: TrackedEvent,
): Array<{ key_type: LinkedAnonymousId['via']; key_value: string }> {
  const keys: Array<{ key_type: LinkedAnonymousId['via']; key_value: string }> = [];
  if (e.user.user_id) keys.push({ key_type: 'user_id', key_value: e.user.user_id });
  if (e.user.email_sha256) keys.push({ key_type: 'email', key_value: e.user.email_sha256 });
  if (e.user.phone_sha256) keys.push({ key_type: 'phone', key_value: e.user.phone_sha256 });
  return keys;
}

/** The browser and device ids an event carries (touches are kept under the same ids). */
export function anonymousIds(e: TrackedEvent): string[] {
  const ids = [e.user.anonymous_id, e.user.cookie_id, ...deviceAnonymousIds(e.user)];
  return [...new Set(ids.filter((x): x is string => !!x))];
}

/**
 * The event's person (with the browser ids linked to its strong keys, read now) and the
 * lookup of the touches that may be theirs since `since` (Unix s).
 */
export async function personLookup(
  tx: IngestTx,
  e: TrackedEvent,
  since: number,
): Promise<{ who: ConversionIdentity; lookup: TouchLookup }> {
  const linked = await tx.findLinkedAnonymousIds(e.env_id, strongKeys(e));
  const lookup: TouchLookup = {
    env_id: e.env_id,
    user_id: e.user.user_id,
    anonymous_ids: [...new Set([...anonymousIds(e), ...linked.map((l) => l.anonymous_id)])],
    touch_ids: [e.user.click_id, e.user.imp_id].filter((x): x is string => !!x),
    ip: e.user.ip,
    since,
  };
  return { who: { time: e.event_time, user: e.user, linked }, lookup };
}

/** Reads the touches that may belong to the event's person since `since` (Unix s). */
export async function personTouches(
  tx: IngestTx,
  e: TrackedEvent,
  since: number,
): Promise<{ who: ConversionIdentity; touches: Touch[] }> {
  const { who, lookup } = await personLookup(tx, e, since);
  return { who, touches: await tx.findTouches(lookup) };
}

/** The path record of one conversion from the touches already read for it. */
export function pathRecord(
  conversion_id: string,
  event_pk: string,
  e: TrackedEvent,
  who: ConversionIdentity,
  touches: readonly Touch[],
  lookback_s: number,
  nowMs: number,
): ConversionPathRecord {
  return {
    env_id: e.env_id,
    conversion_id,
    event_pk,
    event_name: e.event_name,
    event_time: e.event_time,
    value: e.properties.value ?? null,
    currency: e.properties.currency ?? null,
    lookback_s,
    // Ads consent denied: no touch may be tied to this person (DESIGN §6).
    touches: e.consent.ads === false ? [] : conversionPathTouches(who, touches, lookback_s),
    created_at_ms: nowMs,
  };
}

/** Rebuilds one conversion's path from the touches stored now (after a rule change). */
export async function rebuildPath(
  tx: IngestTx,
  conversion_id: string,
  event_pk: string,
  e: TrackedEvent,
  lookback_s: number,
  nowMs: number,
): Promise<ConversionPathRecord> {
  const { who, touches } = await personTouches(tx, e, e.event_time - lookback_s);
  return pathRecord(conversion_id, event_pk, e, who, touches, lookback_s, nowMs);
}
