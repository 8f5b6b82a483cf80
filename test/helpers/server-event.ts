import type { TrackedEvent } from '../../src/domain/event.js';

/**
 * An event as the server events API hands it to ingest, with analytics consent and ads
 * consent `ads`; a Purchase of 10 EUR.
 */
export function serverEvent(
  env_id: string,
  event_name: string,
  event_id: string,
  event_time: number,
  user: TrackedEvent['user'],
  ads = true,
): TrackedEvent {
  return {
    env_id,
    event_name,
    event_id,
    event_time,
    source: 'server',
    user,
    properties: event_name === 'Purchase' ? { value: 10, currency: 'EUR' } : {},
    consent: { ads, analytics: true },
    warnings: [],
  };
}
