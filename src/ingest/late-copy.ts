import { findDestination } from '../config/find-destination.js';
import type { DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';
import { adsPermitted, underLimitedDataUse } from '../domain/consent.js';
import type { ClearUserInfo } from '../domain/customer-info.js';
import type { TrackedEvent } from '../domain/event.js';
import type { ConversionRecord, IngestTx, OutboxRecord, StoredEvent } from '../store/store.js';
import { clearUserFor } from './clear-user-ride.js';
import type { PlatformTraits } from './platform-traits.js';

// The platform traits type lives in platform-traits.ts (clear-user-ride.ts reads it too).
export type { PlatformTraits } from './platform-traits.js';

import { deliveryDueMs } from './merge-window.js';

/** Why a conversion is not credited nor delivered: the person said no to ads. */
export const CONSENT_DENIED = 'ads consent denied';
/** Not attributed (the person opted out), yet sent flagged for the platform's LDU mode. */
export const LIMITED_DATA_USE = 'opted out of sale: sent under Limited Data Use, not attributed';
const CONSENT_WITHDRAWN = 'ads consent withdrawn by a later copy of the event before it was sent';
/**
 * A delivered conversion is sent again only this long after its first copy: Meta and TikTok
 * deduplicate by event id within 48 h of the first event they got, so the re-send must land
 * inside that; half of it leaves a day for retries through an outage.
 */
export const UPDATE_WINDOW_MS = 24 * 3_600_000;

/**
 * Whether a conversion of this event may be queued for the destination: always, unless the
 * event carries a test code; then only to a platform's test channel (DESIGN §7).
 */
export function deliversTest(
  e: TrackedEvent,
  dest: DestinationConfig,
  platforms: PlatformTraits | undefined,
): boolean {
  return !e.test_code || (platforms?.testChannel(dest, e.test_code) ?? false);
}

/** A copy of a stored event, merged into it. */
export interface LateCopy {
  stored: StoredEvent;
  merged: TrackedEvent;
  /** User keys the copy added to the stored event. */
  addedKeys: readonly string[];
  env: EnvironmentConfig;
  nowMs: number;
  /** The copy's raw client IP, for the rows it queues (the stored one is protected). */
  rawIp: string | undefined;
  /** The copy's clear name and address values, for the rows of platforms that need them. */
  clearUser: ClearUserInfo | undefined;
  platforms?: PlatformTraits;
}

/**
 * What a later copy changes about deliveries already decided (issue 20 §1, DESIGN §7):
 * - it denies consent: deliveries that have not left are cancelled, and the conversions not
 *   delivered are no longer credited (the person's latest word wins while nothing has left);
 * - it brings value or currency: the conversions get them;
 * - it brings match keys: deliveries that failed only for want of identifiers are queued
 *   again, and delivered ones are sent again to platforms that merge a re-sent event.
 * Deliveries still waiting need nothing: they are built from the merged event when sent.
 * `conversions`: the event's conversions as stored now (re-attribution's, just written).
 */
export async function settleLateCopy(
  tx: IngestTx,
  copy: LateCopy,
  conversions: readonly ConversionRecord[],
): Promise<void> {
  const { stored, merged } = copy;
  if (conversions.length === 0) return;
  const rows = await tx.deliveriesOfConversion(merged.env_id, conversions[0].conversion_id);
  if (!adsPermitted(merged.consent)) {
    if (adsPermitted(stored.event.consent)) await withdraw(tx, conversions, rows, copy);
    return;
  }
  for (const c of conversions) {
    const { value, currency } = merged.properties;
    const fill = {
      ...(c.value === null && typeof value === 'number' ? { value } : {}),
      ...(c.currency === null && currency ? { currency } : {}),
    };
    if (Object.keys(fill).length > 0) await tx.putConversion({ ...c, ...fill });
  }
  await rideOnWaiting(tx, rows, copy);
  if (copy.addedKeys.length === 0) return;
  for (const row of rows) {
    const dest = findDestination(copy.env, row.dest_id);
    const conversion = conversions.find((c) => c.dest_id === row.dest_id);
    if (!dest || !conversion || !sendAgain(row, dest, conversion, copy)) continue;
    const due = deliveryDueMs(dest, stored.received_at_ms, copy.nowMs);
    const clear = clearUserFor(dest, copy.clearUser, copy.platforms);
    await tx.requeueDeliveries([row.id], due, copy.nowMs, copy.rawIp, clear);
  }
}

/**
 * A row still waiting (the merge window) is built from the merged event when sent, but the
 * clear values are not in it: the copy's ride along on the rows of platforms that need them
 * (the server copy with the name and address often follows the browser's beacon).
 */
async function rideOnWaiting(
  tx: IngestTx,
  rows: readonly OutboxRecord[],
  copy: LateCopy,
): Promise<void> {
  if (!copy.clearUser) return;
  for (const row of rows) {
    const dest = findDestination(copy.env, row.dest_id);
    const clear = dest && clearUserFor(dest, copy.clearUser, copy.platforms);
    if (row.status === 'pending' && clear) await tx.setClearUser(row.id, clear);
  }
}

/** Whether the keys the copy added make this row worth sending (again). */
function sendAgain(
  row: OutboxRecord,
  dest: DestinationConfig,
  conversion: ConversionRecord,
  copy: LateCopy,
): boolean {
  if (row.status === 'failed') return row.failed_for === 'identifiers';
  if (row.status !== 'delivered' || !copy.platforms) return false;
  if (copy.nowMs - copy.stored.received_at_ms > UPDATE_WINDOW_MS) return false;
  const before = copy.platforms.updateKeys(dest, { conversion, event: copy.stored.event });
  const after = copy.platforms.updateKeys(dest, { conversion, event: copy.merged });
  if (!before || !after) return false;
  const had = new Set(before);
  return after.some((k) => !had.has(k));
}

/**
 * The copy denied consent: what has not left is cancelled, except where the destination sends
 * a sale opt-out under the platform's Limited Data Use mode (then it goes, flagged, uncredited).
 */
async function withdraw(
  tx: IngestTx,
  conversions: readonly ConversionRecord[],
  rows: readonly OutboxRecord[],
  { env, merged, nowMs }: LateCopy,
): Promise<void> {
  const ldu = new Set(
    env.destinations
      .filter((d) => underLimitedDataUse(d.settings, merged.consent))
      .map((d) => d.id),
  );
  const waiting = rows.filter((r) => r.status === 'pending' && !ldu.has(r.dest_id));
  await tx.cancelDeliveries(
    waiting.map((r) => r.id),
    'consent',
    CONSENT_WITHDRAWN,
    nowMs,
  );
  const { env_id, conversion_id } = conversions[0];
  const after = await tx.deliveriesOfConversion(env_id, conversion_id);
  // A conversion already sent (or in flight) stays as the platform has it.
  const sent = new Set(
    after.filter((r) => r.status === 'delivered' || r.status === 'pending').map((r) => r.dest_id),
  );
  for (const c of conversions) {
    const reason = ldu.has(c.dest_id) ? LIMITED_DATA_USE : CONSENT_DENIED;
    if (ldu.has(c.dest_id) || !sent.has(c.dest_id))
      await tx.putConversion({ ...c, attribution: null, reason });
  }
}
