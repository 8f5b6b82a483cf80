// The request body of Reddit's Conversions API v2.0, followed from
// https://ads-api.reddit.com/docs/v2/#tag/Conversions (`test_mode`, `events[]` with event_at,
// event_type.tracking_type, click_id, event_metadata, user). Deprecated but not yet sunset
// (https://www.rudderstack.com/docs/destinations/streaming-destinations/reddit/v3-migration/).
import type { DestinationConfig } from '../../domain/config-types.js';
import type { DeliveryItem } from './adapter.js';
import { valueAndCurrency } from './capi-user-data.js';
import { redditEventType, redditProductFields, redditUser, VALUE_TYPES } from './reddit-fields.js';

function eventMetadata(item: DeliveryItem, type: string): Record<string, unknown> {
  // conversion_id is what Reddit dedups the Pixel and CAPI copies of one conversion on.
  const meta: Record<string, unknown> = { conversion_id: item.conversion.event_id };
  const { value, currency } = valueAndCurrency(item);
  if (VALUE_TYPES.has(type)) {
    if (value !== undefined) meta.value_decimal = value;
    if (currency) meta.currency = currency;
  }
  return { ...meta, ...redditProductFields(item, type) };
}

/** One conversion as an element of v2's `events`. */
export function redditV2Event(
  item: DeliveryItem,
  dest: DestinationConfig,
): Record<string, unknown> {
  const c = item.conversion;
  const eventType = redditEventType(dest, c.event_name);
  return {
    event_at: new Date(c.event_time * 1000).toISOString(),
    event_type: eventType,
    ...(item.event.user.rdt_cid ? { click_id: item.event.user.rdt_cid } : {}),
    event_metadata: eventMetadata(item, eventType.tracking_type),
    user: redditUser(item),
  };
}

/** The v2 body: `test_mode` (Reddit stores nothing when true) and the events. */
export function redditV2Body(items: DeliveryItem[], dest: DestinationConfig): string {
  return JSON.stringify({
    test_mode: dest.test_mode,
    events: items.map((item) => redditV2Event(item, dest)),
  });
}
