import type { ConversionIdentity, IdentityKey, LinkedAnonymousId } from '../domain/attribution.js';
import { deviceAnonymousIds } from '../domain/device-id.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { IngestTx, TouchLookup } from '../store/store.js';

// Who an event's person is, for attribution, conversion paths and the debugger: the ids the
// event carries, the browser ids linked to its strong keys, and the touches that may be theirs.

/** Ids of the event's person strong enough to link browser ids (DESIGN §6). */
export function strongKeys(e: TrackedEvent): IdentityKey[] {
  const keys: IdentityKey[] = [];
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
 * The event's person (with the browser ids linked to its strong keys, read now unless
 * `linkedRead` gives them, read for many events at once) and the lookup of the touches that may
 * be theirs since `since` (Unix s), by IP address since `ipSince` (default `since`; see
 * TouchLookup.ip_since).
 */
export async function personLookup(
  tx: IngestTx,
  e: TrackedEvent,
  since: number,
  ipSince?: number,
  linkedRead?: LinkedAnonymousId[],
): Promise<{ who: ConversionIdentity; lookup: TouchLookup }> {
  const linked = linkedRead ?? (await tx.findLinkedAnonymousIds(e.env_id, strongKeys(e)));
  const lookup: TouchLookup = {
    env_id: e.env_id,
    user_id: e.user.user_id,
    anonymous_ids: [...new Set([...anonymousIds(e), ...linked.map((l) => l.anonymous_id)])],
    touch_ids: [e.user.click_id, e.user.imp_id, e.user.install_referrer_click_id].filter(
      (x): x is string => !!x,
    ),
    ip: e.user.ip,
    since,
    ...(ipSince !== undefined ? { ip_since: ipSince } : {}),
  };
  return { who: { time: e.event_time, user: e.user, linked }, lookup };
}

/** Reads the touches that may belong to the event's person since `since` (Unix s). */
export async function personTouches(
  tx: IngestTx,
  e: TrackedEvent,
  since: number,
  ipSince?: number,
): Promise<{ who: ConversionIdentity; touches: Touch[] }> {
  const { who, lookup } = await personLookup(tx, e, since, ipSince);
  return { who, touches: await tx.findTouches(lookup) };
}
