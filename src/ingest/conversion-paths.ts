import type { ConversionIdentity } from '../domain/attribution.js';
import type { DestinationConfig } from '../domain/config-types.js';
import { conversionPathTouches } from '../domain/conversion-path.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { ConversionPathRecord, IngestTx } from '../store/store.js';
import { personTouches } from './person-lookup.js';

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
