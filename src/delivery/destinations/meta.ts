// Meta Conversions API, followed from:
// https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api (endpoint,
// access_token, batches of up to 1,000 events, test_event_code),
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/server-event
// (event_name, event_time ≤ 7 days old, event_id, action_source, event_source_url),
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
// (em/ph/external_id hashed; client_ip_address, client_user_agent, fbc, fbp in clear),
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/custom-data
// (value and currency required for Purchase; contents of id, quantity, item_price; order_id),
// https://developers.facebook.com/docs/marketing-api/data-processing-options (Limited Data
// Use: `data_processing_options: ["LDU"]`, country and state 0 to let Meta geolocate),
// https://developers.facebook.com/docs/marketing-api/conversions-api/offline-events (store
// events through the same endpoint, `action_source: physical_store`, up to 62 days old) and
// https://developers.facebook.com/docs/graph-api/guides/error-handling (error codes).
import { type Static, Type } from '@sinclair/typebox';
import { underLimitedDataUse } from '../../domain/consent.js';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type { ActionSource } from '../../domain/event.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import {
  type CapiUserData,
  capiCustomData,
  capiUserData,
  valueAndCurrency,
} from './capi-user-data.js';
import {
  apiBase,
  eventActionSource,
  eventSourceUrl,
  platformEventName,
} from './platform-fields.js';

/** "You can send up to 1,000 events in data." */
export const META_MAX_EVENTS = 1000;
/** "If any event_time in data is greater than 7 days in the past, we return an error for the
 * entire request and process no events." */
export const META_MAX_EVENT_AGE_S = 7 * 86_400;
/** Store sales and system-generated events (offline conversions) may be up to 62 days old. */
export const META_MAX_OFFLINE_EVENT_AGE_S = 62 * 86_400;

/** How old an event of this action source Meta still takes. */
export function metaMaxEventAgeS(source: ActionSource | undefined): number {
  return source === 'physical_store' || source === 'system_generated'
    ? META_MAX_OFFLINE_EVENT_AGE_S
    : META_MAX_EVENT_AGE_S;
}
/** A Graph API version Meta currently serves; `api_version` overrides it. */
export const META_DEFAULT_API_VERSION = 'v21.0';

const MetaSettings = Type.Object(
  {
    pixel_id: Type.String({ pattern: '^[0-9]+$', description: 'Pixel (dataset) id' }),
    access_token: Type.String({ secret: true, description: 'Conversions API access token' }),
    api_version: Type.Optional(
      Type.String({ pattern: '^v[0-9]+\\.[0-9]+$', description: 'Graph API version, e.g. v21.0' }),
    ),
    test_event_code: Type.Optional(
      Type.String({ minLength: 1, description: 'Events Manager → Test events code' }),
    ),
    limited_data_use: Type.Optional(
      Type.Boolean({
        description:
          'Send events of people who opted out of sale (GPC, US Privacy, GPP) with Limited Data Use instead of dropping them',
      }),
    ),
  },
  { additionalProperties: false },
);
type MetaSettings = Static<typeof MetaSettings>;

/**
 * Our standard names as Meta's standard events. They are Meta's own names already; listing
 * them documents which ones Meta optimizes for. Other names go as custom events.
 */
export const META_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'PageView',
  ViewContent: 'ViewContent',
  Search: 'Search',
  AddToCart: 'AddToCart',
  AddToWishlist: 'AddToWishlist',
  InitiateCheckout: 'InitiateCheckout',
  AddPaymentInfo: 'AddPaymentInfo',
  Purchase: 'Purchase',
  Lead: 'Lead',
  CompleteRegistration: 'CompleteRegistration',
  Contact: 'Contact',
  Subscribe: 'Subscribe',
  StartTrial: 'StartTrial',
  Schedule: 'Schedule',
  SubmitApplication: 'SubmitApplication',
  Donate: 'Donate',
  FindLocation: 'FindLocation',
  CustomizeProduct: 'CustomizeProduct',
};

/** Meta's `user_data`: the shared keys plus Meta's browser and click ids (`_fbp`, `_fbc`). */
type MetaUserData = CapiUserData & { fbc?: string; fbp?: string };

function metaUserData(item: DeliveryItem): MetaUserData {
  const u = item.event.user;
  return {
    ...capiUserData(item.event),
    ...(u.fbc ? { fbc: u.fbc } : {}),
    ...(u.fbp ? { fbp: u.fbp } : {}),
  };
}

/** Why Meta could not match the conversion to a person, or null. */
export function metaUnmatchable(item: DeliveryItem): string | null {
  const u = metaUserData(item);
  const matchable =
    u.em || u.ph || u.external_id || u.fbc || u.fbp || (u.client_ip_address && u.client_user_agent);
  return matchable
    ? null
    : 'no customer information Meta can match (email, phone, user id, fbc/fbp or IP + user agent)';
}

/**
 * Where the conversion happened: the event's own `action_source` (a store sale, a phone
 * order, an import…), else "website" when it has the page URL and user agent Meta requires of
 * web events, else "other".
 */
export function metaActionSource(item: DeliveryItem): ActionSource {
  const e = item.event;
  const own = eventActionSource(e);
  if (own) return own;
  return eventSourceUrl(e) && e.user.user_agent ? 'website' : 'other';
}

/**
 * Limited Data Use for a person who opted out of sale, when the destination opts for it;
 * country and state 0 ask Meta to geolocate from the IP address.
 */
function processingOptions(
  item: DeliveryItem,
  ctx: DeliveryContext<MetaSettings>,
): Record<string, unknown> {
  if (!underLimitedDataUse(ctx.settings, item.event.consent)) return {};
  return {
    data_processing_options: ['LDU'],
    data_processing_options_country: 0,
    data_processing_options_state: 0,
  };
}

/** One conversion as an element of `data`. */
export function metaServerEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<MetaSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const url = eventSourceUrl(item.event);
  const custom = capiCustomData(item);
  return {
    event_name: platformEventName(ctx.dest, c.event_name, META_EVENT_NAMES),
    event_time: c.event_time,
    // The same id the browser pixel sends as eventID, so Meta keeps one of the two.
    event_id: c.event_id,
    action_source: metaActionSource(item),
    ...(url ? { event_source_url: url } : {}),
    user_data: metaUserData(item),
    ...(Object.keys(custom).length > 0 ? { custom_data: custom } : {}),
    ...processingOptions(item, ctx),
  };
}

/**
 * The request body: the events, the token as the form field Meta's examples post (kept out of
 * the URL, so proxies do not log it), and `test_event_code` in test mode only: a code on a
 * production request would show real conversions in Test Events instead of counting them.
 */
export function metaBody(
  items: readonly DeliveryItem[],
  ctx: DeliveryContext<MetaSettings>,
): Record<string, unknown> {
  const code = ctx.dest.test_mode ? (ctx.settings.test_event_code ?? ctx.testCode) : undefined;
  return {
    data: items.map((item) => metaServerEvent(item, ctx)),
    ...(code ? { test_event_code: code } : {}),
    access_token: ctx.settings.access_token,
  };
}

/** A Graph API error body (`{"error":{…}}`). */
export interface GraphError {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  error_user_msg?: string;
  is_transient?: boolean;
  fbtrace_id?: string;
}

/** The `error` object of a Graph API answer, or null when the body is something else. */
export function readGraphError(body: string): GraphError | null {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed?.error === 'object' && parsed.error !== null
      ? (parsed.error as GraphError)
      : null;
  } catch {
    return null;
  }
}

/** Throttling codes: app (4), user (17), API (32), per-call (613), app limit (341), ad account
 * and business use case limits (80000-80014). */
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613]);
const isRateLimit = (code: number) =>
  RATE_LIMIT_CODES.has(code) || (code >= 80_000 && code <= 80_014);

/** Why Meta refused, in the delivery log's words. */
function describe(err: GraphError): string {
  const code = `code ${err.code}${err.error_subcode ? `/${err.error_subcode}` : ''}`;
  const text = err.error_user_msg || err.message || 'no message';
  return `${text} (${code}${err.fbtrace_id ? `, fbtrace_id ${err.fbtrace_id}` : ''})`;
}

/**
 * Reads Meta's error code into a verdict (the recovery column of Graph API "Handling Errors"):
 * - 190 (token expired or invalid), 102 (session), 10 and 200-299 (permission): nothing sent
 *   with this token can succeed, so the destination pauses until someone fixes it.
 * - 100/33 (object does not exist or the token cannot reach it): a wrong pixel id; pause.
 * - 100/2804003: an event older than 7 days; this batch can never succeed, drop it.
 * - 100 otherwise: an invalid parameter; the same request fails again, drop it.
 * - 4, 17, 32, 341, 613, 80000-80014: throttling; retry later (Retry-After when Meta sends one).
 * - 1, 2, 368 or `is_transient`: a temporary problem on Meta's side; retry.
 * - anything else: the HTTP status class decides (DESIGN §7).
 */
export function metaVerdict(
  err: GraphError,
  status: number,
  retryAfter: string | null,
  nowMs: number,
): DeliveryVerdict {
  const code = err.code ?? 0;
  const why = describe(err);
  if (code === 190 || code === 102)
    return { action: 'pause', reason: `access token refused: ${why}` };
  if (code === 10 || (code >= 200 && code <= 299))
    return { action: 'pause', reason: `permission denied: ${why}` };
  if (code === 100 && err.error_subcode === 33)
    return { action: 'pause', reason: `invalid pixel id: ${why}` };
  if (code === 100 && err.error_subcode === 2804003)
    return { action: 'drop', reason: `event too old: ${why}` };
  if (code === 100) return { action: 'drop', reason: `invalid parameter: ${why}` };
  if (isRateLimit(code)) {
    // Read Retry-After (when Meta sends one) the way DESIGN §7 does, capped at 300 s.
    const base = classifyAttempt({ kind: 'response', status: 429, retryAfter }, nowMs);
    const wait = base.action === 'retry' ? base.retryAfterMs : undefined;
    return {
      action: 'retry',
      reason: `rate limited${wait === undefined ? '' : `, retry after ${Math.round(wait / 1000)} s`}: ${why}`,
      retryAfterMs: wait,
    };
  }
  if (code === 1 || code === 2 || code === 368 || err.is_transient === true)
    return { action: 'retry', reason: `temporary Meta error: ${why}` };
  const byStatus = classifyAttempt({ kind: 'response', status, retryAfter }, nowMs);
  return byStatus.action === 'done'
    ? byStatus
    : { ...byStatus, reason: `${byStatus.reason}: ${why}` };
}

/** Reads Meta's answer; one request is all or nothing, so every item gets the same verdict. */
export function interpretMeta(
  result: HttpResult,
  items: DeliveryItem[],
  nowMs: number,
): Interpretation {
  const all = (v: DeliveryVerdict, detail: string | null) => ({
    verdicts: items.map(() => v),
    detail,
  });
  if (result.kind === 'network') return all(classifyAttempt(result, nowMs), result.error);
  if (result.status >= 200 && result.status < 300) {
    let received: unknown;
    try {
      received = (JSON.parse(result.bodyExcerpt) as { events_received?: unknown }).events_received;
    } catch {
      received = undefined;
    }
    return all(
      { action: 'done' },
      typeof received === 'number' ? `events_received ${received}` : result.bodyExcerpt,
    );
  }
  const err = readGraphError(result.bodyExcerpt);
  const verdict = err
    ? metaVerdict(err, result.status, result.retryAfter, nowMs)
    : classifyAttempt(result, nowMs);
  return all(verdict, err && verdict.action !== 'done' ? verdict.reason : result.bodyExcerpt);
}

/**
 * Meta through the Conversions API: up to 1,000 conversions a request, deduplicated against
 * the browser pixel by `event_id`, hashed identities only, `fbc`/`fbp` passed through.
 */
export const metaDestination: DestinationAdapter<MetaSettings> = {
  type: 'meta',
  settingsSchema: MetaSettings,
  maxBatch: META_MAX_EVENTS,
  defaultBaseUrl: 'https://graph.facebook.com',
  maxEventAgeS: metaMaxEventAgeS,
  refuse(item, ctx) {
    const c = item.conversion;
    // One stale event would fail the whole request, so it never joins one.
    const source = metaActionSource(item);
    const maxAgeS = metaMaxEventAgeS(source);
    if (ctx.nowMs / 1000 - c.event_time > maxAgeS)
      return `event too old: Meta refuses ${source} events older than ${maxAgeS / 86_400} days`;
    if (ctx.dest.test_mode && !(ctx.settings.test_event_code ?? ctx.testCode))
      return 'test_mode needs test_event_code (Events Manager → Test events)';
    const name = platformEventName(ctx.dest, c.event_name, META_EVENT_NAMES);
    const { value, currency } = valueAndCurrency(item);
    if (name === 'Purchase' && (value === undefined || !currency))
      return 'Meta requires value and currency on Purchase events';
    return metaUnmatchable(item);
  },
  unmatchable: metaUnmatchable,
  testChannel: (settings, testCode) => {
    const code = settings.test_event_code ?? testCode;
    return code ? `Meta Test Events (test_event_code ${code})` : null;
  },
  // Meta deduplicates a server event by event_id and event_name ("Handling Duplicate Pixel
  // and Conversions API Events"): the same conversion sent again with more customer
  // information is kept as one event, so a late copy's match keys can still reach it.
  updateKeys: (item) => Object.keys(metaUserData(item)),
  buildRequest(items, ctx) {
    const version = ctx.settings.api_version ?? META_DEFAULT_API_VERSION;
    const base = apiBase(ctx.dest, 'https://graph.facebook.com');
    return {
      url: `${base}/${version}/${encodeURIComponent(ctx.settings.pixel_id)}/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'pixeltrail-meta/1' },
      body: JSON.stringify(metaBody(items, ctx)),
    };
  },
  interpret: interpretMeta,
};
