// TikTok Events API 2.0 (web events), followed from:
// https://business-api.tiktok.com/portal/docs?id=1771101276978178 (POST /open_api/v1.3/event/track/,
// `Access-Token` header, `event_source` "web", `event_source_id` = pixel code, `data[]` with
// event, event_time, event_id, user, properties, page; `test_event_code`; up to 1,000 events),
// https://ads.tiktok.com/help/article/supported-standard-events (event codes as of Sept 2025:
// 'Purchase' is the standard purchase event), https://ads.tiktok.com/help/article/reserved-events
// (CompletePayment → Purchase, ClickForm → SubmitForm) and
// https://business-api.tiktok.com/portal/docs?id=1737172488964097 (return codes: answers are
// HTTP 200 with `{code, message, request_id}`, `code` 0 meaning OK) and
// https://business-api.tiktok.com/portal/docs?id=1771101186666498 (`user.first_name`,
// `last_name`, `city`, `state`, `country`, `zip_code` SHA-256 hashed, normalised as Meta's;
// `properties.contents[]` of content_id, quantity, price).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type { TrackedEvent } from '../../domain/event.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { contentIds, givenOrderId, valueAndCurrency } from './capi-user-data.js';
import { apiBase, eventSourceUrl, hashedExternalId, platformEventName } from './platform-fields.js';

/** At most 1,000 events in one `data` array; one bad event fails the whole request. */
export const TIKTOK_MAX_EVENTS = 1000;
/** Events older than the longest click-through window (28 days) are neither matched nor shown. */
export const TIKTOK_MAX_EVENT_AGE_S = 28 * 86_400;
const DEFAULT_BASE_URL = 'https://business-api.tiktok.com';

const TiktokSettings = Type.Object(
  {
    pixel_code: Type.String({
      pattern: '^[A-Za-z0-9]+$',
      description: 'Pixel code (Events Manager → Web Events), e.g. C4A1B2C3D4E5F6G7H8I9',
    }),
    access_token: Type.String({ secret: true, description: 'Events API access token' }),
    test_event_code: Type.Optional(
      Type.String({ minLength: 1, description: 'Events Manager → Test Events code' }),
    ),
  },
  { additionalProperties: false },
);
type TiktokSettings = Static<typeof TiktokSettings>;

/**
 * Our standard names as TikTok's standard event codes. Since September 2025 TikTok's purchase
 * event is 'Purchase' (the older 'CompletePayment' is now a reserved alias of it) and a form
 * submission is 'SubmitForm'; `event_map` can send 'PlaceAnOrder' or a custom name instead.
 */
export const TIKTOK_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'PageView',
  ViewContent: 'ViewContent',
  Search: 'Search',
  AddToCart: 'AddToCart',
  AddToWishlist: 'AddToWishlist',
  InitiateCheckout: 'InitiateCheckout',
  AddPaymentInfo: 'AddPaymentInfo',
  Purchase: 'Purchase',
  Lead: 'SubmitForm',
  CompleteRegistration: 'CompleteRegistration',
  Contact: 'Contact',
  Subscribe: 'Subscribe',
  StartTrial: 'StartTrial',
  Schedule: 'Schedule',
  SubmitApplication: 'SubmitApplication',
  Download: 'Download',
  FindLocation: 'FindLocation',
  CustomizeProduct: 'CustomizeProduct',
};

/** Events whose order id TikTok reads (`properties.order_id`). */
const ORDER_EVENTS = new Set(['Purchase', 'PlaceAnOrder', 'CompletePayment']);

/**
 * The person as TikTok's `user`: hashed email and user id, the click id (`ttclid`) and the
 * `_ttp` cookie, IP and user agent in clear. The phone goes as TikTok hashes it: E.164 *with*
 * the `+` (only known when the phone arrived in clear).
 */
export function tiktokUser(e: TrackedEvent): Record<string, string> {
  const u = e.user;
  const user: Record<string, string> = {};
  if (u.email_sha256) user.email = u.email_sha256;
  if (u.phone_e164_sha256) user.phone = u.phone_e164_sha256;
  const external = hashedExternalId(e);
  if (external) user.external_id = external;
  if (u.first_name_sha256) user.first_name = u.first_name_sha256;
  if (u.last_name_sha256) user.last_name = u.last_name_sha256;
  if (u.city_sha256) user.city = u.city_sha256;
  if (u.state_sha256) user.state = u.state_sha256;
  if (u.country_sha256) user.country = u.country_sha256;
  if (u.zip_sha256) user.zip_code = u.zip_sha256;
  if (u.ttclid) user.ttclid = u.ttclid;
  if (u.ttp) user.ttp = u.ttp;
  if (u.ip) user.ip = u.ip;
  if (u.user_agent) user.user_agent = u.user_agent;
  return user;
}

/** The products as TikTok's `contents`: `content_id`, and quantity and price when known. */
function tiktokContents(e: TrackedEvent): Array<Record<string, unknown>> | undefined {
  const items = e.properties.contents;
  if (items?.length)
    return items.map((c) => ({
      content_id: c.id,
      ...(c.quantity !== undefined ? { quantity: c.quantity } : {}),
      ...(c.item_price !== undefined ? { price: c.item_price } : {}),
    }));
  return contentIds(e)?.map((id) => ({ content_id: id }));
}

/** Why TikTok could not match the conversion to a person, or null. */
export function tiktokUnmatchable(item: DeliveryItem): string | null {
  const u = tiktokUser(item.event);
  const matchable = u.email || u.external_id || u.ttclid || u.ttp || (u.ip && u.user_agent);
  return matchable
    ? null
    : 'no customer information TikTok can match (email, user id, ttclid, _ttp or IP + user agent)';
}

/** One conversion as an element of `data`. */
export function tiktokEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<TiktokSettings>,
): Record<string, unknown> {
  const { conversion: c, event: e } = item;
  const name = platformEventName(ctx.dest, c.event_name, TIKTOK_EVENT_NAMES);
  const p = e.properties;
  const properties: Record<string, unknown> = { ...valueAndCurrency(item) };
  const contents = tiktokContents(e);
  if (contents) {
    properties.contents = contents;
    properties.content_type = 'product';
  }
  const order = givenOrderId(e);
  if (order && ORDER_EVENTS.has(name)) properties.order_id = order;
  const query = p.search_string ?? p.search_term;
  if (typeof query === 'string') properties.query = query;
  const url = eventSourceUrl(e);
  const referrer = typeof p.referrer === 'string' && /^https?:\/\//.test(p.referrer);
  return {
    event: name,
    event_time: c.event_time,
    // The same id the pixel sends as event_id, so TikTok keeps one of the two.
    event_id: c.event_id,
    user: tiktokUser(e),
    properties,
    ...(url ? { page: { url, ...(referrer ? { referrer: p.referrer } : {}) } } : {}),
  };
}

/** The request body: web events of one pixel, with the test code in test mode only. */
export function tiktokBody(
  items: readonly DeliveryItem[],
  ctx: DeliveryContext<TiktokSettings>,
): Record<string, unknown> {
  const code = ctx.dest.test_mode ? (ctx.settings.test_event_code ?? ctx.testCode) : undefined;
  return {
    event_source: 'web',
    event_source_id: ctx.settings.pixel_code,
    ...(code ? { test_event_code: code } : {}),
    data: items.map((item) => tiktokEvent(item, ctx)),
  };
}

/** TikTok's answer envelope. */
export interface TiktokAnswer {
  code: number;
  message: string;
  request_id: string | null;
}

/** The `{code, message, request_id}` of an answer, also from a body cut short; else null. */
export function readTiktokAnswer(body: string): TiktokAnswer | null {
  try {
    const o = JSON.parse(body) as Record<string, unknown>;
    if (typeof o?.code !== 'number') return null;
    return {
      code: o.code,
      message: typeof o.message === 'string' ? o.message : '',
      request_id: typeof o.request_id === 'string' ? o.request_id : null,
    };
  } catch {
    const code = /"code"\s*:\s*(\d+)/.exec(body);
    if (!code) return null;
    return {
      code: Number(code[1]),
      message: /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1] ?? '',
      request_id: /"request_id"\s*:\s*"([^"]*)"/.exec(body)?.[1] ?? null,
    };
  }
}

/** `code 40002: Invalid params… (request_id …)` for the delivery log. */
function describe(a: TiktokAnswer): string {
  const text = a.message.replace(/\s+/g, ' ').trim().slice(0, 300) || 'no message';
  return `code ${a.code}: ${text}${a.request_id ? ` (request_id ${a.request_id})` : ''}`;
}

/**
 * Reads a TikTok return code into a verdict (the "Return codes" appendix):
 * - 0: OK.
 * - 40100: too many requests (QPS/QPD limit); retried, after Retry-After when sent.
 * - 40101–40199: the access token is missing, invalid, expired or revoked (40104, 40105…);
 *   nothing sent with it can succeed, so the destination pauses.
 * - 40001: no permission on this pixel or advertiser; paused too.
 * - 40002 naming the pixel code: a wrong `pixel_code`, paused ("invalid pixel code").
 * - other 4xxxx (40002 invalid parameters…): this request fails again the same way; dropped.
 * - 5xxxx: TikTok's side (50000 system error, 50002 service unavailable); retried.
 */
export function tiktokVerdict(
  a: TiktokAnswer,
  retryAfter: string | null,
  nowMs: number,
): DeliveryVerdict {
  const why = describe(a);
  if (a.code === 0) return { action: 'done' };
  if (a.code === 40100) {
    const header = classifyAttempt({ kind: 'response', status: 429, retryAfter }, nowMs);
    const wait = header.action === 'retry' ? header.retryAfterMs : undefined;
    const after = wait === undefined ? '' : `, retry after ${Math.round(wait / 1000)} s`;
    return { action: 'retry', reason: `rate limited${after}: ${why}`, retryAfterMs: wait };
  }
  if (a.code > 40100 && a.code < 40200)
    return { action: 'pause', reason: `access token refused: ${why}` };
  if (a.code === 40001) return { action: 'pause', reason: `permission denied: ${why}` };
  if (a.code >= 50000) return { action: 'retry', reason: `TikTok server error: ${why}` };
  if (/pixel|event_source_id/i.test(a.message) && /not exist|invalid|not found/i.test(a.message))
    return { action: 'pause', reason: `invalid pixel code: ${why}` };
  return { action: 'drop', reason: `refused: ${why}` };
}

/**
 * Reads TikTok's answer. Failures mostly come as HTTP 200 with a non-zero `code`; one request
 * is all or nothing, so every item gets the same verdict. Without a readable code, the HTTP
 * status class decides (DESIGN §7).
 */
export function interpretTiktok(
  result: HttpResult,
  items: readonly DeliveryItem[],
  nowMs: number,
): Interpretation {
  const all = (verdict: DeliveryVerdict, detail: string) => ({
    verdicts: items.map(() => verdict),
    detail,
  });
  if (result.kind === 'network')
    return all(classifyAttempt(result, nowMs), `network error: ${result.error}`);
  const answer = readTiktokAnswer(result.bodyExcerpt);
  const ok = result.status >= 200 && result.status < 300;
  if (answer && (ok || answer.code !== 0)) {
    const verdict = tiktokVerdict(answer, result.retryAfter, nowMs);
    const detail = verdict.action === 'done' ? describe(answer) : verdict.reason;
    return all(verdict, verdict.action === 'pause' ? `${detail}; destination paused` : detail);
  }
  const verdict = classifyAttempt(result, nowMs);
  const body = result.bodyExcerpt.replace(/\s+/g, ' ').trim().slice(0, 200);
  return all(
    verdict.action === 'done' ? verdict : { ...verdict, reason: `${verdict.reason}: ${body}` },
    `HTTP ${result.status}: ${body}`,
  );
}

/**
 * TikTok through the Events API 2.0: up to 1,000 web events of one pixel per request,
 * deduplicated against the pixel by `event_id`, hashed identities only, `ttclid`/`_ttp`
 * passed through.
 */
export const tiktokDestination: DestinationAdapter<TiktokSettings> = {
  type: 'tiktok',
  settingsSchema: TiktokSettings,
  maxBatch: TIKTOK_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  maxEventAgeS: () => TIKTOK_MAX_EVENT_AGE_S,
  refuse(item, ctx) {
    const e = item.event;
    if (e.consent.ads === false) return 'ads consent denied';
    if (ctx.nowMs / 1000 - item.conversion.event_time > TIKTOK_MAX_EVENT_AGE_S)
      return 'event too old: TikTok matches events of the last 28 days only';
    if (ctx.dest.test_mode && !(ctx.settings.test_event_code ?? ctx.testCode))
      return 'test_mode needs test_event_code (Events Manager → Test Events)';
    return tiktokUnmatchable(item);
  },
  unmatchable: tiktokUnmatchable,
  testChannel: (settings, testCode) => {
    const code = settings.test_event_code ?? testCode;
    return code ? `TikTok test events (test_event_code ${code})` : null;
  },
  // TikTok deduplicates by event_id (and event) across the pixel and the Events API, so the
  // same conversion sent again with more match keys stays one event.
  updateKeys: (item) => Object.keys(tiktokUser(item.event)),
  buildRequest(items, ctx) {
    return {
      url: `${apiBase(ctx.dest, DEFAULT_BASE_URL)}/open_api/v1.3/event/track/`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'access-token': ctx.settings.access_token,
        'user-agent': 'pixeltrail-tiktok/1',
      },
      body: JSON.stringify(tiktokBody(items, ctx)),
    };
  },
  interpret: interpretTiktok,
};
