// The `user_data`/`custom_data` pair that Meta's Conversions API defined and Snap's CAPI v3
// and Pinterest's Conversions API copied, down to the key names (em, ph, fn, ln, ge, db, ct,
// st, zp, country; contents of id, quantity, item_price):
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/custom-data
// https://developers.snap.com/api/marketing-api/Conversions-API/Parameters
// https://developers.pinterest.com/docs/api/v5/events-create
import type { ContentItem, TrackedEvent, UserKeys } from '../../domain/event.js';
import type { DeliveryItem } from './adapter.js';
import { hashedExternalId } from './platform-fields.js';

/** Matching keys both platforms read the same way: hashed in lists, network data in clear. */
export interface CapiUserData {
  /** SHA-256 of the trimmed, lower-cased email. */
  em?: string[];
  /** SHA-256 of the phone as E.164 digits without `+` (both platforms' rule). */
  ph?: string[];
  fn?: string[];
  ln?: string[];
  ge?: string[];
  db?: string[];
  ct?: string[];
  st?: string[];
  zp?: string[];
  country?: string[];
  /** SHA-256 of our user id, trimmed and lower-cased. */
  external_id?: string[];
  client_ip_address?: string;
  client_user_agent?: string;
}

/** The hashed customer-information keys, each with the stored hash it comes from. */
const HASHED_KEYS: ReadonlyArray<[keyof CapiUserData, keyof UserKeys]> = [
  ['fn', 'first_name_sha256'],
  ['ln', 'last_name_sha256'],
  ['ge', 'gender_sha256'],
  ['db', 'date_of_birth_sha256'],
  ['ct', 'city_sha256'],
  ['st', 'state_sha256'],
  ['zp', 'zip_sha256'],
  ['country', 'country_sha256'],
];

/**
 * The person behind an event as `user_data`. Emails, phones, names, gender, birth date and
 * address arrive already normalized and hashed (DESIGN §5, customer-info.ts); only the IP and
 * user agent go in clear, as the platforms require.
 */
export function capiUserData(e: TrackedEvent): CapiUserData {
  const u = e.user;
  const data: CapiUserData = {};
  if (u.email_sha256) data.em = [u.email_sha256];
  if (u.phone_sha256) data.ph = [u.phone_sha256];
  for (const [key, stored] of HASHED_KEYS) {
    const hash = u[stored];
    if (typeof hash === 'string') (data as Record<string, string[]>)[key] = [hash];
  }
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

/** The product ids: `content_ids` as sent, else the ids of `contents`. */
export function contentIds(e: TrackedEvent): string[] | undefined {
  const p = e.properties;
  if (p.content_ids?.length) return p.content_ids;
  return p.contents?.length ? p.contents.map((c) => c.id) : undefined;
}

/** How many items: `num_items` as sent, else the quantities of `contents` (1 when unsaid). */
export function itemCount(e: TrackedEvent): number | undefined {
  const p = e.properties;
  if (typeof p.num_items === 'number' && Number.isInteger(p.num_items)) return p.num_items;
  return p.contents?.length ? p.contents.reduce((n, c) => n + (c.quantity ?? 1), 0) : undefined;
}

/** `contents` as Meta, Snap and Pinterest take it: `id`, `quantity`, `item_price`. */
export function capiContents(e: TrackedEvent): ContentItem[] | undefined {
  return e.properties.contents?.length ? e.properties.contents : undefined;
}

/**
 * `custom_data`: value, currency, the products as `content_ids` and `contents` (with
 * `content_type` "product"), the order id, the item count and a search string, each only when
 * known.
 */
export function capiCustomData(item: DeliveryItem): Record<string, unknown> {
  const p = item.event.properties;
  const data: Record<string, unknown> = { ...valueAndCurrency(item) };
  const ids = contentIds(item.event);
  if (ids) {
    data.content_ids = ids;
    data.content_type = 'product';
  }
  const contents = capiContents(item.event);
  if (contents) data.contents = contents;
  const order = givenOrderId(item.event);
  if (order) data.order_id = order;
  const count = itemCount(item.event);
  if (count !== undefined) data.num_items = count;
  const search = p.search_string ?? p.search_term;
  if (typeof search === 'string') data.search_string = search;
  return data;
}
