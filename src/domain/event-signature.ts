import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time.js';
import type { TrackedEvent } from './event.js';

/**
 * The signed text of a browser-sent conversion: the fields a forger would change, one a line.
 * The value is the number as JSON writes it (`49.9`, not `49.90`), the currency upper case.
 */
export function canonicalEvent(
  e: Pick<TrackedEvent, 'env_id' | 'event_name' | 'event_id' | 'properties'>,
): string {
  const v = e.properties.value;
  return [
    e.env_id,
    e.event_name,
    e.event_id,
    v === undefined ? '' : String(v),
    e.properties.currency ?? '',
  ].join('\n');
}

/**
 * Hex HMAC-SHA256 of the canonical event, keyed with the environment's `click_secret`: a shop's
 * backend renders it into the confirmation page (`sig` on the event, or on `/p`) so a
 * destination with `accept: signed` can tell its conversions from forged ones.
 */
export function signEvent(
  secret: string,
  e: Pick<TrackedEvent, 'env_id' | 'event_name' | 'event_id' | 'properties'>,
): string {
  return createHmac('sha256', secret).update(canonicalEvent(e)).digest('hex');
}

/** True when `sig` signs the event; constant-time. */
export function verifyEventSignature(
  secret: string,
  e: Pick<TrackedEvent, 'env_id' | 'event_name' | 'event_id' | 'properties'>,
  sig: unknown,
): boolean {
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/i.test(sig)) return false;
  return constantTimeEqual(sig.toLowerCase(), signEvent(secret, e));
}
