// What both versions of Reddit's Conversions API read the same way: the standard tracking
// types, which of them take value and item_count
// (https://business.reddithelp.com/s/article/about-event-metadata), and the match keys.
import type { DestinationConfig } from '../../domain/config-types.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryItem } from './adapter.js';
import { contentIds, itemCount } from './capi-user-data.js';
import { platformEventName } from './platform-fields.js';

/** "Max 1,000 events per call." */
export const REDDIT_MAX_EVENTS = 1000;
/** "event_at timestamp must be less than 168h0m0s old." */
export const REDDIT_MAX_EVENT_AGE_S = 168 * 3_600;
/** `custom_event_name` is free-form, at most 64 characters. */
const MAX_CUSTOM_NAME_CHARS = 64;

/** Our standard names as Reddit's tracking types (v2 spelling); other events are custom. */
export const REDDIT_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'PageVisit',
  ViewContent: 'ViewContent',
  Search: 'Search',
  AddToCart: 'AddToCart',
  AddToWishlist: 'AddToWishlist',
  Purchase: 'Purchase',
  Lead: 'Lead',
  CompleteRegistration: 'SignUp',
};

/** Reddit's standard tracking types (v2 spelling). */
const STANDARD_TYPES = new Set(Object.values(REDDIT_EVENT_NAMES));
/** Types that carry a value and currency, and those that carry `item_count`. */
export const VALUE_TYPES = new Set([
  'Purchase',
  'AddToCart',
  'AddToWishlist',
  'Lead',
  'SignUp',
  'Custom',
]);
export const COUNT_TYPES = new Set(['Purchase', 'AddToCart', 'AddToWishlist', 'Custom']);

/**
 * The event's tracking type in v2 spelling: `event_map` first, then our standard names, else
 * `Custom` named after the event.
 */
export function redditEventType(
  dest: DestinationConfig,
  ourName: string,
): { tracking_type: string; custom_event_name?: string } {
  const name = platformEventName(dest, ourName, REDDIT_EVENT_NAMES);
  return STANDARD_TYPES.has(name)
    ? { tracking_type: name }
    : { tracking_type: 'Custom', custom_event_name: name.slice(0, MAX_CUSTOM_NAME_CHARS) };
}

/**
 * `user`: the hashed email, our user id and IP hashed as Reddit recommends (SHA-256), the user
 * agent in clear. No phone here: v2.0 takes none, and v3's (redditV3User) is the hash of the
 * number with its leading `+`, not the one without (Meta's rule) that `phone_sha256` holds.
 */
export function redditUser(item: DeliveryItem): Record<string, string> {
  const u = item.event.user;
  const user: Record<string, string> = {};
  if (u.email_sha256) user.email = u.email_sha256;
  if (u.user_id) user.external_id = sha256Hex(u.user_id.trim());
  if (u.ip) user.ip_address = sha256Hex(u.ip.trim());
  if (u.user_agent) user.user_agent = u.user_agent;
  return user;
}

/**
 * The products' part of the metadata, the same in both API versions: `item_count` for the
 * types that take one (`num_items`, else the quantities of `contents`, else how many ids) and
 * `products` as `{id}`. `type` is the tracking type in v2's spelling.
 */
export function redditProductFields(
  item: DeliveryItem,
  type: string,
): { item_count?: number; products?: { id: string }[] } {
  const ids = contentIds(item.event) ?? [];
  const count = itemCount(item.event) ?? ids.length;
  return {
    ...(COUNT_TYPES.has(type) && count > 0 ? { item_count: count } : {}),
    ...(ids.length > 0 ? { products: ids.map((id) => ({ id })) } : {}),
  };
}
