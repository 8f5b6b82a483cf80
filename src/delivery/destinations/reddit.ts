// Reddit Conversions API v2.0, followed from https://ads-api.reddit.com/docs/v2/#tag/Conversions
// (POST /api/v2.0/conversions/events/{account_id}, Bearer conversion token, `test_mode`,
// `events[]` with event_at, event_type.tracking_type, click_id, event_metadata, user),
// https://business.reddithelp.com/s/article/about-event-metadata (which event types take
// value and item_count) and Reddit's CAPI error table (400 "There were N invalid conversion
// events. None were processed." with `invalid_events`, 401 UNAUTHORIZED, 403 not authorized
// for the pixel, 429 rate limits incl. default user agents, 500 unavailable; 1,000 events a
// request; events at most 7 days old).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import { sha256Hex } from '../../domain/identity.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from '../destination.js';
import { apiBase, platformEventName } from '../platform-fields.js';
import { valueAndCurrency } from './capi-user-data.js';

/** "Max 1,000 events per call." */
export const REDDIT_MAX_EVENTS = 1000;
/** "event_at timestamp must be less than 168h0m0s old." */
export const REDDIT_MAX_EVENT_AGE_S = 168 * 3_600;
/** `custom_event_name` is free-form, at most 64 characters. */
const MAX_CUSTOM_NAME_CHARS = 64;
/** How many of Reddit's per-event messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;

const RedditSettings = Type.Object(
  {
    account_id: Type.String({
      minLength: 1,
      description: 'Ads account (pixel) id, e.g. a2_abc123',
    }),
    access_token: Type.String({ secret: true, description: 'Conversion access token' }),
  },
  { additionalProperties: false },
);
type RedditSettings = Static<typeof RedditSettings>;

/** Our standard names as Reddit's v2 tracking types; other events go as `Custom`. */
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
/** Types that carry `value_decimal`/`currency`, and those that carry `item_count`. */
const VALUE_TYPES = new Set(['Purchase', 'AddToCart', 'AddToWishlist', 'Lead', 'SignUp', 'Custom']);
const COUNT_TYPES = new Set(['Purchase', 'AddToCart', 'AddToWishlist', 'Custom']);

/** `event_type`: a standard tracking type, else `Custom` named after the event. */
export function redditEventType(
  ctx: DeliveryContext<RedditSettings>,
  ourName: string,
): { tracking_type: string; custom_event_name?: string } {
  const name = platformEventName(ctx.dest, ourName, REDDIT_EVENT_NAMES);
  return STANDARD_TYPES.has(name)
    ? { tracking_type: name }
    : { tracking_type: 'Custom', custom_event_name: name.slice(0, MAX_CUSTOM_NAME_CHARS) };
}

/**
 * `user`: the hashed email, our user id and IP hashed as Reddit recommends (SHA-256), the user
 * agent in clear. The phone is left out: Reddit hashes it with its leading `+`, ours is hashed
 * without one (Meta's rule), so it could never match.
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

function eventMetadata(item: DeliveryItem, type: string): Record<string, unknown> {
  const p = item.event.properties;
  // conversion_id is what Reddit dedups the Pixel and CAPI copies of one conversion on.
  const meta: Record<string, unknown> = { conversion_id: item.conversion.event_id };
  const { value, currency } = valueAndCurrency(item);
  if (VALUE_TYPES.has(type)) {
    if (value !== undefined) meta.value_decimal = value;
    if (currency) meta.currency = currency;
  }
  const ids = p.content_ids ?? [];
  const count =
    typeof p.num_items === 'number' && Number.isInteger(p.num_items) ? p.num_items : ids.length;
  if (COUNT_TYPES.has(type) && count > 0) meta.item_count = count;
  if (ids.length > 0) meta.products = ids.map((id) => ({ id }));
  return meta;
}

/** One conversion as an element of `events`. */
export function redditEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<RedditSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const eventType = redditEventType(ctx, c.event_name);
  return {
    event_at: new Date(c.event_time * 1000).toISOString(),
    event_type: eventType,
    ...(item.event.user.rdt_cid ? { click_id: item.event.user.rdt_cid } : {}),
    event_metadata: eventMetadata(item, eventType.tracking_type),
    user: redditUser(item),
  };
}

/** Reddit's error answers: `{message, invalid_events}` (400) or `{error:{reason, explanation}}`. */
interface RedditAnswer {
  message?: string;
  invalid_events?: Array<{
    error_message?: string;
    event_index?: number;
    event?: { event_metadata?: { conversion_id?: string } };
  }>;
  error?: { reason?: string; explanation?: string };
}

function readAnswer(body: string): RedditAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as RedditAnswer) : null;
  } catch {
    return null;
  }
}

/** Conversion ids named in a (possibly cut-off) body, for answers too long to parse. */
function conversionIdsIn(body: string): string[] {
  return [...body.matchAll(/"conversion_id"\s*:\s*"([^"]*)"/g)].map((m) => m[1]);
}

/**
 * Which items Reddit named as invalid: by `event_index` when given, else by the conversion id
 * each echoed event carries (ours, or its SHA-256 when Reddit hashed it).
 */
function invalidItems(
  answer: RedditAnswer | null,
  body: string,
  items: DeliveryItem[],
): Set<number> {
  const bad = new Set<number>();
  const ids = new Set(conversionIdsIn(body));
  for (const e of answer?.invalid_events ?? []) {
    if (typeof e.event_index === 'number') bad.add(e.event_index);
    const id = e.event?.event_metadata?.conversion_id;
    if (id) ids.add(id);
  }
  items.forEach((item, i) => {
    const id = item.conversion.event_id;
    if (ids.has(id) || ids.has(sha256Hex(id))) bad.add(i);
  });
  return bad;
}

function describe(answer: RedditAnswer | null, body: string): string {
  if (!answer) return body.trim() || 'no body';
  if (answer.error)
    return [answer.error.reason, answer.error.explanation].filter(Boolean).join(': ');
  const msgs = (answer.invalid_events ?? [])
    .map((e) => e.error_message)
    .filter(Boolean)
    .slice(0, DETAIL_MESSAGES);
  return [answer.message, ...msgs].filter(Boolean).join('; ') || body;
}

/**
 * Reads Reddit's answer into one verdict per item:
 * - 2xx: delivered.
 * - 400 with `invalid_events`: Reddit processed none of the batch. The events it names are
 *   dropped with its message; the others are retried at once and go through without them.
 *   When none can be told apart, the whole batch is dropped (it would fail again).
 * - 401 (no or invalid token): pause.
 * - 403: "not authorized to post conversions" or a missing scope pauses; a 403 that explains a
 *   JSON type error is a payload problem, dropped.
 * - 429 (quota or throttled user agent), 408, 5xx, network errors: retried, Retry-After honoured.
 */
export function interpretReddit(
  result: HttpResult,
  items: DeliveryItem[],
  nowMs: number,
): Interpretation {
  const all = (v: DeliveryVerdict, detail: string) => ({ verdicts: items.map(() => v), detail });
  if (result.kind === 'network') return all(classifyAttempt(result, nowMs), result.error);
  const s = result.status;
  const answer = readAnswer(result.bodyExcerpt);
  const why = describe(answer, result.bodyExcerpt);
  if (s >= 200 && s < 300) return all({ action: 'done' }, why);
  if (s === 401) return all({ action: 'pause', reason: `access token refused: ${why}` }, why);
  if (s === 403) {
    const payload = /JSON error/i.test(answer?.error?.explanation ?? '');
    return all(
      payload
        ? { action: 'drop', reason: `invalid payload: ${why}` }
        : { action: 'pause', reason: `not authorized for this account: ${why}` },
      why,
    );
  }
  if (s === 400) {
    const bad = invalidItems(answer, result.bodyExcerpt, items);
    if (bad.size > 0 && bad.size < items.length) {
      return {
        verdicts: items.map((_, i) =>
          bad.has(i)
            ? { action: 'drop', reason: `invalid event: ${why}` }
            : { action: 'retry', reason: 'sent again without the invalid events', retryAfterMs: 0 },
        ),
        detail: why,
      };
    }
    return all({ action: 'drop', reason: `events refused by Reddit: ${why}` }, why);
  }
  const byStatus = classifyAttempt(result, nowMs);
  if (byStatus.action !== 'retry') return all({ action: 'drop', reason: `HTTP ${s}: ${why}` }, why);
  const after = byStatus.retryAfterMs;
  const label = s === 429 ? 'rate limited' : byStatus.reason;
  return all(
    {
      ...byStatus,
      reason: `${label}${after === undefined ? '' : `, retry after ${Math.round(after / 1000)} s`}: ${why}`,
    },
    why,
  );
}

/**
 * Reddit through the Conversions API v2.0: up to 1,000 conversions a request, `conversion_id`
 * (our event id) for Pixel dedup, `click_id` from the `rdt_cid` the tag captured, hashed
 * identities only. `test_mode` sends Reddit's `test_mode: true`, which stores nothing.
 */
export const redditDestination: DestinationAdapter<RedditSettings> = {
  type: 'reddit',
  settingsSchema: RedditSettings,
  maxBatch: REDDIT_MAX_EVENTS,
  defaultBaseUrl: 'https://ads-api.reddit.com',
  refuse(item, ctx) {
    if (ctx.nowMs / 1000 - item.conversion.event_time > REDDIT_MAX_EVENT_AGE_S)
      return 'event too old: Reddit refuses events older than 7 days';
    const u = redditUser(item);
    return item.event.user.rdt_cid || u.email || u.external_id || (u.ip_address && u.user_agent)
      ? null
      : 'no match key Reddit accepts (rdt_cid, email, user id, or IP + user agent)';
  },
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, 'https://ads-api.reddit.com');
    return {
      url: `${base}/api/v2.0/conversions/events/${encodeURIComponent(ctx.settings.account_id)}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ctx.settings.access_token}`,
        // Reddit throttles default user agents ("Your user agent was automatically ratelimited").
        'user-agent': 'pixeltrail-reddit/1 (conversions API)',
      },
      body: JSON.stringify({
        test_mode: ctx.dest.test_mode,
        events: items.map((item) => redditEvent(item, ctx)),
      }),
    };
  },
  interpret: interpretReddit,
};
