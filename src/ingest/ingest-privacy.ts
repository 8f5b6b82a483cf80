import type { AcceptPolicy, EnvironmentConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { protectIp } from '../domain/ip-privacy.js';

/**
 * The event as it may be stored: its IP kept as the environment's `ip_storage` says, without
 * the clear name and address values (they ride only on the outbox rows that need them).
 */
export function protectEvent(
  arrived: TrackedEvent,
  env: EnvironmentConfig | undefined,
): TrackedEvent {
  const ip =
    env && arrived.user.ip
      ? protectIp(arrived.user.ip, env.ip_storage, env.ip_secret)
      : arrived.user.ip;
  // One copy (an object rest, then a spread for the IP, copied the event twice); a spread is
  // the quicker copy, the rest is for the rare event with clear values.
  let e: TrackedEvent;
  if (arrived.clear_user === undefined) e = { ...arrived };
  else {
    const { clear_user: _clear, ...rest } = arrived;
    e = rest;
  }
  if (ip !== arrived.user.ip) e.user = { ...arrived.user, ip };
  return e;
}

/** The touch as it may be stored (see protectEvent). */
export function protectTouch(t: Touch, env: EnvironmentConfig | undefined): Touch {
  if (!env || !t.ip) return t;
  return { ...t, ip: protectIp(t.ip, env.ip_storage, env.ip_secret) };
}

/**
 * Why a destination refuses to spend its platform's budget on this event, or null. Anyone can
 * make a browser fire `/p` or `/e`, so a destination may demand events sent with the write key
 * (`server_only`) or carrying a valid signature (`signed`).
 */
export function acceptRefusal(policy: AcceptPolicy | undefined, e: TrackedEvent): string | null {
  if (!policy || policy === 'any') return null;
  if (e.verified === 'write_key') return null;
  if (policy === 'signed' && e.verified === 'signature') return null;
  return policy === 'signed'
    ? 'browser-sent and unsigned (destination accepts signed or server-side events only)'
    : 'browser-sent (destination accepts server-side events only)';
}
