import { deviceAnonymousIds } from './device-id.js';
import type { TrackedEvent } from './event.js';

/** An event stamped further than this from its arrival is flagged (clock or unit mistakes). */
export const EVENT_TIME_SKEW_WARN_S = 600;

/**
 * What the debugger warns about on a stored event: its validation warnings, plus problems
 * that do not make it invalid but cost attribution or deduplication.
 */
export function eventDiagnostics(e: TrackedEvent, received_at_ms: number): string[] {
  const out = [...e.warnings];
  const u = e.user;
  // A device id or the click a Play install referrer names is as strong as a user id.
  const device = deviceAnonymousIds(u).length > 0 || !!u.install_referrer_click_id;
  const keyed =
    u.user_id ||
    u.email_sha256 ||
    u.phone_sha256 ||
    u.anonymous_id ||
    u.cookie_id ||
    u.click_id ||
    u.imp_id ||
    device ||
    u.ip;
  if (!keyed) out.push('no match key: add user_id, email, phone, the ptid cookie or the IP');
  else if (
    !u.user_agent &&
    !u.user_id &&
    !u.email_sha256 &&
    !u.phone_sha256 &&
    !u.anonymous_id &&
    !device
  )
    out.push('weak match keys only: without a user agent, IP matches are IP-only');
  const skew = Math.round(received_at_ms / 1000) - e.event_time;
  if (Math.abs(skew) > EVENT_TIME_SKEW_WARN_S) {
    const minutes = Math.round(Math.abs(skew) / 60);
    out.push(
      `event_time skew: ${minutes} min ${skew > 0 ? 'before' : 'after'} arrival (late upload, or clock or unit error?)`,
    );
  }
  if (e.test_code)
    out.push(`test mode (${e.test_code}): sent only to platforms' test channels, not in reports`);
  return out;
}
