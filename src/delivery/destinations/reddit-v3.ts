// The request body of Reddit's Conversions API v3 (POST /api/v3/pixels/{pixel_id}/
// conversion_events), followed from Reddit's v2-to-v3 migration guide and Direct Integration
// pages (https://ads-api.reddit.com/docs/v3/, as quoted in Segment's
// action-destinations reddit-conversions-api/V3-API-REFERENCE.md): the events sit in
// `data.events`; `event_at` is Unix epoch milliseconds; `action_source` is required;
// `event_type` became `type` with UPPER_SNAKE_CASE tracking types; `event_metadata` became
// `metadata` with `value` a double in the currency's base unit; `test_mode` is replaced by the
// `test_id` Event Testing hands out; `event_source_url` is new. Cross-checked with RudderStack's
// transformer (rudder-transformer src/cdk/v2/destinations/reddit/transformV3.ts).
import type { DestinationConfig } from '../../domain/config-types.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryItem } from './adapter.js';
import { valueAndCurrency } from './capi-user-data.js';
import { eventSourceUrl } from './platform-fields.js';
import { redditEventType, redditProductFields, redditUser, VALUE_TYPES } from './reddit-fields.js';

/** v3's `action_source`: "Website", "App", "Offline (physical store)", "Other". */
export const REDDIT_ACTION_SOURCES = ['WEBSITE', 'APP', 'PHYSICAL_STORE', 'OTHER'] as const;
export type RedditActionSource = (typeof REDDIT_ACTION_SOURCES)[number];

/** What the v3 body needs besides the items. */
export interface RedditV3Options {
  actionSource: RedditActionSource;
  /** Sent as `data.test_id`: the events go to Event Testing instead of the pixel's data. */
  testId?: string;
}

/** "Standard event enum mapping": v2's tracking types as v3 spells them. */
const V3_TRACKING_TYPES: Readonly<Record<string, string>> = {
  PageVisit: 'PAGE_VISIT',
  ViewContent: 'VIEW_CONTENT',
  Search: 'SEARCH',
  AddToCart: 'ADD_TO_CART',
  AddToWishlist: 'ADD_TO_WISHLIST',
  Purchase: 'PURCHASE',
  Lead: 'LEAD',
  SignUp: 'SIGN_UP',
  Custom: 'CUSTOM',
};
/** v3 spelling back to v2's, so an `event_map` may name a type either way. */
const FROM_V3 = new Map(Object.entries(V3_TRACKING_TYPES).map(([v2, v3]) => [v3, v2]));

/**
 * `type`: a standard tracking type in v3's spelling, else `CUSTOM` with the event's name.
 * Also returns the v2 spelling, which the value and item_count rules are keyed by.
 */
export function redditV3Type(
  dest: DestinationConfig,
  ourName: string,
): { v2: string; type: { tracking_type: string; custom_event_name?: string } } {
  const t = redditEventType(dest, ourName);
  const named = t.custom_event_name === undefined ? undefined : FROM_V3.get(t.custom_event_name);
  const v2 = named && named !== 'Custom' ? named : t.tracking_type;
  const tracking_type = V3_TRACKING_TYPES[v2];
  return v2 === 'Custom'
    ? { v2, type: { tracking_type, custom_event_name: t.custom_event_name } }
    : { v2, type: { tracking_type } };
}

function metadata(item: DeliveryItem, v2Type: string): Record<string, unknown> {
  // conversion_id is what Reddit dedups the Pixel and CAPI copies of one conversion on.
  const meta: Record<string, unknown> = { conversion_id: item.conversion.event_id };
  const { value, currency } = valueAndCurrency(item);
  // Sent as a pair only: v3 wants a currency with every value and a value with every currency,
  // and one bad event fails the whole request ("None were processed").
  if (VALUE_TYPES.has(v2Type) && value !== undefined && currency) {
    meta.value = value;
    meta.currency = currency;
  }
  return { ...meta, ...redditProductFields(item, v2Type) };
}

/**
 * `user`: v2's match keys plus the phone (SHA-256 of `+` and its E.164 digits, known when the
 * event gave it in clear) and the mobile advertising ids, hashed as Reddit asks (IDFA in upper
 * case, AAID in lower case, dashes kept, SHA-256). Offline (PHYSICAL_STORE) conversions carry
 * only the email, the phone and the user id: Reddit says offline events send no device
 * identifiers.
 */
export function redditV3User(
  item: DeliveryItem,
  actionSource: RedditActionSource,
): Record<string, string> {
  const user = redditUser(item);
  const u = item.event.user;
  if (u.phone_e164_sha256) user.phone_number = u.phone_e164_sha256;
  if (actionSource === 'PHYSICAL_STORE') {
    const { email, phone_number, external_id } = user;
    return {
      ...(email ? { email } : {}),
      ...(phone_number ? { phone_number } : {}),
      ...(external_id ? { external_id } : {}),
    };
  }
  if (u.idfa) user.idfa = sha256Hex(u.idfa.toUpperCase());
  if (u.gaid) user.aaid = sha256Hex(u.gaid.toLowerCase());
  return user;
}

/** One conversion as an element of v3's `data.events`. */
export function redditV3Event(
  item: DeliveryItem,
  dest: DestinationConfig,
  actionSource: RedditActionSource,
): Record<string, unknown> {
  const c = item.conversion;
  const { v2, type } = redditV3Type(dest, c.event_name);
  // The page the conversion happened on lets Reddit tell the domain; website events only.
  const url = actionSource === 'WEBSITE' ? eventSourceUrl(item.event) : undefined;
  const clickId = actionSource === 'PHYSICAL_STORE' ? undefined : item.event.user.rdt_cid;
  return {
    event_at: Math.round(c.event_time * 1000),
    action_source: actionSource,
    ...(url ? { event_source_url: url } : {}),
    ...(clickId ? { click_id: clickId } : {}),
    type,
    metadata: metadata(item, v2),
    user: redditV3User(item, actionSource),
  };
}

/** The v3 body: `{data: {test_id?, events}}`. */
export function redditV3Body(
  items: DeliveryItem[],
  dest: DestinationConfig,
  opts: RedditV3Options,
): string {
  return JSON.stringify({
    data: {
      ...(opts.testId ? { test_id: opts.testId } : {}),
      events: items.map((item) => redditV3Event(item, dest, opts.actionSource)),
    },
  });
}
