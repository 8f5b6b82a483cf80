// The `user_data`/`custom_data` pair that Meta's Conversions API defined and Snap's CAPI v3
// copied: https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/custom-data
// https://developers.snap.com/api/marketing-api/Conversions-API/Parameters
import type { TrackedEvent } from '../../domain/event.js';
import type { DeliveryItem } from '../destination.js';
import { hashedExternalId } from '../platform-fields.js';

/** Matching keys both platforms read the same way: hashed in lists, network data in clear. */
export interface CapiUserData {
  /** SHA-256 of the trimmed, lower-cased email. */
  em?: string[];
  /** SHA-256 of the phone as E.164 digits without `+` (both platforms' rule). */
  ph?: string[];
  /** SHA-256 of our user id, trimmed and lower-cased. */
  external_id?: string[];
  client_ip_address?: string;
  client_user_agent?: string;
}

/**
 * The person behind an event as `user_data`. Emails and phones arrive already normalized and
 * hashed (DESIGN §5); only the IP and user agent go in clear, as both platforms require.
 */
export function capiUserData(e: TrackedEvent): CapiUserData {
  const u = e.user;
  const data: CapiUserData = {};
  if (u.email_sha256) data.em = [u.email_sha256];
  if (u.phone_sha256) data.ph = [u.phone_sha256];
  const external = hashedExternalId(e);
  if (external) data.external_id = [external];
  if (u.ip) data.client_ip_address = u.ip;
  if (u.user_agent) data.client_user_agent = u.user_agent;
  return data;
}

/** The shop's own order id (`order_id`/`transaction_id` property), never a made-up one. */
export function givenOrderId(e: TrackedEvent): string | undefined {
  const id = e.properties.order_id ?? e.properties.transaction_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/** The conversion's value and currency: the stored conversion first, then the event. */
export function valueAndCurrency(item: DeliveryItem): { value?: number; currency?: string } {
  const value = item.conversion.value ?? item.event.properties.value;
  const currency = item.conversion.currency ?? item.event.properties.currency;
  return {
    ...(typeof value === 'number' ? { value } : {}),
    ...(currency ? { currency } : {}),
  };
}

/**
 * `custom_data`: value, currency, the products as `content_ids` (with `content_type`
 * "product"), the order id, the item count and a search string, each only when known.
 */
export function capiCustomData(item: DeliveryItem): Record<string, unknown> {
  const p = item.event.properties;
  const data: Record<string, unknown> = { ...valueAndCurrency(item) };
  if (p.content_ids?.length) {
    data.content_ids = p.content_ids;
    data.content_type = 'product';
  }
  const order = givenOrderId(item.event);
  if (order) data.order_id = order;
  if (typeof p.num_items === 'number' && Number.isInteger(p.num_items))
    data.num_items = p.num_items;
  const search = p.search_string ?? p.search_term;
  if (typeof search === 'string') data.search_string = search;
  return data;
}
