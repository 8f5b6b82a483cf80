// X (Twitter) Conversion API for web events, followed from
// https://developer.x.com/en/docs/x-ads-api/measurement/web-conversions/conversions
// (POST https://ads-api.x.com/12/measurement/conversions/:pixel_id, `conversions[]` of up to 500
// with conversion_time in ISO 8601, the event tag's event_id, `identifiers` twclid /
// hashed_email / hashed_phone_number / ip_address + user_agent, conversion_id for deduplication
// with the pixel, number_items, price_currency, value, contents), its troubleshooting page
// https://developer.x.com/en/docs/x-ads-api/measurement/web-conversions/troubleshooting (a
// request succeeds only when every conversion in it is valid; 400/401/403/404 and their
// messages) and OAuth 1.0a user-context signing (../oauth1.ts).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { capiContents, contentIds, itemCount, valueAndCurrency } from './capi-user-data.js';
import { newStamp, oauth1Header } from './oauth1.js';
import { apiBase } from './platform-fields.js';

/** "Up to 500 conversion events may be provided" per request. */
export const X_MAX_EVENTS = 500;
/** The Ads API version in the path. */
const X_API_VERSION = '12';
/** How many of X's error messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;
const DEFAULT_BASE_URL = 'https://ads-api.x.com';

const XSettings = Type.Object(
  {
    pixel_id: Type.String({
      pattern: '^[0-9a-z]+$',
      description: 'Base (pixel) tag ID of the ad account, e.g. o8z6j (Events Manager)',
    }),
    event_id: Type.Optional(
      Type.String({
        pattern: '^(tw-[0-9a-z]+-)?[0-9a-z]+$',
        description:
          'Event ID of the conversion event (tw-o8z6j-o87ne or o87ne); event_map names one per event',
      }),
    ),
    consumer_key: Type.String({ minLength: 1, description: 'API Key of the X app' }),
    consumer_secret: Type.String({ minLength: 1, secret: true, description: 'API Key Secret' }),
    access_token: Type.String({
      minLength: 1,
      secret: true,
      description: 'Access Token of a user with access to the ad account',
    }),
    access_token_secret: Type.String({
      minLength: 1,
      secret: true,
      description: 'Access Token Secret',
    }),
  },
  { additionalProperties: false },
);
type XSettings = Static<typeof XSettings>;

/**
 * The X event a conversion is recorded under: each event in Events Manager has its own id, so
 * `event_map` names one per event name, and `event_id` is the one for the rest.
 */
export function xEventId(item: DeliveryItem, ctx: DeliveryContext<XSettings>): string | undefined {
  return ctx.dest.event_map[item.conversion.event_name] ?? ctx.settings.event_id;
}

/** `identifiers`: click id, hashed email and E.164 phone, and IP with user agent together. */
export function xIdentifiers(item: DeliveryItem): Array<Record<string, string>> {
  const u = item.event.user;
  const ids: Array<Record<string, string>> = [];
  if (u.twclid) ids.push({ twclid: u.twclid });
  if (u.email_sha256) ids.push({ hashed_email: u.email_sha256 });
  if (u.phone_e164_sha256) ids.push({ hashed_phone_number: u.phone_e164_sha256 });
  if (u.ip && u.user_agent) ids.push({ ip_address: u.ip, user_agent: u.user_agent });
  return ids;
}

/** `contents`: the products of `contents` (id, quantity, price), else the `content_ids`. */
function xContents(item: DeliveryItem): { contents?: Array<Record<string, unknown>> } {
  const contents = capiContents(item.event);
  if (contents)
    return {
      contents: contents.map((x) => ({
        content_id: x.id,
        ...(x.quantity === undefined ? {} : { num_items: x.quantity }),
        ...(x.item_price === undefined ? {} : { content_price: x.item_price }),
      })),
    };
  const ids = contentIds(item.event);
  return ids ? { contents: ids.map((id) => ({ content_id: id })) } : {};
}

/** One conversion as an element of `conversions`. */
export function xConversion(
  item: DeliveryItem,
  ctx: DeliveryContext<XSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const { value, currency } = valueAndCurrency(item);
  const count = itemCount(item.event) ?? contentIds(item.event)?.length ?? 0;
  return {
    conversion_time: new Date(c.event_time * 1000).toISOString(),
    event_id: xEventId(item, ctx),
    identifiers: xIdentifiers(item),
    // The X pixel's conversion_id: X counts the browser's and our copy once.
    conversion_id: c.event_id,
    ...(value === undefined ? {} : { value }),
    ...(currency ? { price_currency: currency } : {}),
    ...(count > 0 ? { number_items: count } : {}),
    ...xContents(item),
  };
}

/** X's error answer: `{errors: [{code, message, parameter?}]}`. */
interface XAnswer {
  errors?: Array<{ code?: string; message?: string; parameter?: string }>;
  data?: { conversions_processed?: number };
}

function readAnswer(body: string): XAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as XAnswer) : null;
  } catch {
    return null;
  }
}

/** X's own words: the first few `code: message` of its errors. */
function describe(a: XAnswer | null, result: Extract<HttpResult, { kind: 'response' }>): string {
  const words = (a?.errors ?? [])
    .slice(0, DETAIL_MESSAGES)
    .map((e) => [e.code, e.message].filter(Boolean).join(': '))
    .filter(Boolean);
  if (words.length) return words.join('; ');
  const processed = a?.data?.conversions_processed;
  if (typeof processed === 'number') return `${processed} conversions processed`;
  return result.bodyExcerpt || `HTTP ${result.status}`;
}

/**
 * Reads X's answer into one verdict for the batch (X accepts a request only when every
 * conversion in it is valid, and names no conversion by position):
 * - 2xx: delivered.
 * - 400: a conversion is invalid (missing identifier, unknown event id, too many): the same
 *   request fails again, so it is dropped with X's words.
 * - 401: the OAuth credentials are refused; 403: this app or user may not use the ad account;
 *   404: no such pixel. Each pauses the destination: every request fails the same way.
 * - 408, 429, 5xx and network errors: retried, honouring Retry-After.
 */
export function xVerdict(
  result: HttpResult,
  nowMs: number,
): { verdict: DeliveryVerdict; detail: string } {
  if (result.kind === 'network')
    return { verdict: classifyAttempt(result, nowMs), detail: result.error };
  const why = describe(readAnswer(result.bodyExcerpt), result);
  const s = result.status;
  if (s === 401)
    return {
      verdict: { action: 'pause', reason: `OAuth credentials refused: ${why}` },
      detail: why,
    };
  if (s === 403)
    return {
      verdict: { action: 'pause', reason: `not allowed to send for this ad account: ${why}` },
      detail: why,
    };
  if (s === 404)
    return { verdict: { action: 'pause', reason: `no such pixel: ${why}` }, detail: why };
  const v = classifyAttempt(result, nowMs);
  if (v.action === 'retry')
    return { verdict: { ...v, reason: `${v.reason}: ${why}` }, detail: why };
  if (v.action === 'drop')
    return { verdict: { action: 'drop', reason: `conversions refused by X: ${why}` }, detail: why };
  return { verdict: v, detail: why };
}

/**
 * X (Twitter) through the Conversion API: up to 500 conversions a request, each recorded under
 * its X event, deduplicated against the X pixel by `conversion_id`, matched by `twclid`, hashed
 * email and phone, signed with OAuth 1.0a. X has no test channel: `test_mode` sends nothing.
 */
export const xAdsDestination: DestinationAdapter<XSettings> = {
  type: 'x_ads',
  settingsSchema: XSettings,
  maxBatch: X_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  refuse(item, ctx) {
    if (item.event.consent.ads === false) return 'ads consent denied';
    if (ctx.dest.test_mode)
      return 'test_mode: the X Conversion API has no test channel, nothing sent';
    if (!xEventId(item, ctx))
      return `no X event for "${item.conversion.event_name}": set event_id or name one in event_map`;
    const { value, currency } = valueAndCurrency(item);
    // X would read a value without currency as USD.
    if (value !== undefined && !currency) return 'X needs the currency of a conversion value';
    const u = item.event.user;
    return u.twclid || u.email_sha256 || u.phone_e164_sha256
      ? null
      : 'no identifier X accepts (twclid, email or phone)';
  },
  buildRequest(items, ctx) {
    const s = ctx.settings;
    const base = apiBase(ctx.dest, DEFAULT_BASE_URL);
    const url = `${base}/${X_API_VERSION}/measurement/conversions/${encodeURIComponent(s.pixel_id)}`;
    const authorization = oauth1Header(
      { method: 'POST', url },
      {
        consumerKey: s.consumer_key,
        consumerSecret: s.consumer_secret,
        token: s.access_token,
        tokenSecret: s.access_token_secret,
      },
      newStamp(ctx.nowMs),
    );
    return {
      url,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization,
        'user-agent': 'pixeltrail-x/1',
      },
      body: JSON.stringify({ conversions: items.map((item) => xConversion(item, ctx)) }),
    };
  },
  interpret(result, items, nowMs): Interpretation {
    const { verdict, detail } = xVerdict(result, nowMs);
    return { verdicts: items.map(() => verdict), detail };
  },
};
