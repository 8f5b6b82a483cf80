import type { EnvironmentConfig } from '../domain/config-types.js';
import type { ActionSource } from '../domain/event.js';
import { MAX_EVENT_AGE_S } from '../domain/validation.js';
import { adapterFor } from './destinations/registry.js';

/**
 * How old an event a destination without a platform limit of its own takes (webhooks,
 * postbacks): the 90 days touches are kept (DESIGN §6), beyond which nothing is attributed.
 */
export const DEFAULT_LATE_EVENT_AGE_S = 90 * 86_400;

/**
 * The oldest `event_time` (seconds ago) worth accepting for this event: the longest window
 * among the destinations that will get it (Meta 7 days for the web and 62 for store sales,
 * Google Ads 90…), and never less than MAX_EVENT_AGE_S: a platform with a shorter limit (GA4's
 * 72 h) must not make the store refuse an event it always kept for reports. Each destination
 * then gets only what it still accepts (its adapter's `refuse`), and the rest is recorded
 * with the reason.
 */
export function eventAgeLimitS(
  env: EnvironmentConfig | undefined,
  eventName: string,
  source: ActionSource | undefined,
): number {
  let longest = 0;
  for (const d of env?.destinations ?? []) {
    if (!d.events.includes(eventName)) continue;
    const limit = adapterFor(d.type)?.maxEventAgeS?.(source) ?? DEFAULT_LATE_EVENT_AGE_S;
    longest = Math.max(longest, limit);
  }
  return Math.max(longest, MAX_EVENT_AGE_S);
}
