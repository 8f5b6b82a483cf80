// Microsoft Advertising Conversions API (UET CAPI), followed from
// https://learn.microsoft.com/en-us/advertising/guides/uet-conversion-api-integration
// (endpoint POST https://capi.uet.microsoft.com/v1/{tagId}/events, `Authorization: Bearer` with
// the UET tag's Conversions API token, the `data[]` body with eventType pageLoad|custom,
// eventId/eventName for deduplication against the UET tag, eventTime in Unix seconds at most
// 7 days old, adStorageConsent G|D, userData em/ph SHA-256, msclkid, externalId, IP and user
// agent, customData value/currency/transactionId/itemIds, continueOnValidationError and the
// per-event `error.details[{index, errorMessage}]` answer) and
// https://learn.microsoft.com/en-us/advertising/msa-help/hlp_ba_conc_aboutcapi (what CAPI is for).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { capiContents, contentIds, givenOrderId, valueAndCurrency } from './capi-user-data.js';
import { apiBase, eventSourceUrl, hashedExternalId, platformEventName } from './platform-fields.js';

/** Events one request may carry (the API's limit). */
export const MICROSOFT_MAX_EVENTS = 1000;
/** eventTime may be at most 7 days in the past. */
export const MICROSOFT_MAX_EVENT_AGE_S = 7 * 86_400;
/** How many of Microsoft's error details the delivery log keeps. */
const DETAIL_MESSAGES = 3;
const DEFAULT_BASE_URL = 'https://capi.uet.microsoft.com';

const MicrosoftSettings = Type.Object(
  {
    tag_id: Type.String({
      pattern: '^[0-9]+$',
      description: 'UET tag ID (Tools → UET tag)',
    }),
    access_token: Type.String({
      minLength: 1,
      secret: true,
      description: 'Conversions API token of that UET tag ("Use Conversions API")',
    }),
  },
  { additionalProperties: false },
);
type MicrosoftSettings = Static<typeof MicrosoftSettings>;

/** Our standard names as the UET event actions Microsoft's predefined goals use. */
export const MICROSOFT_EVENT_NAMES: Readonly<Record<string, string>> = {
  Purchase: 'purchase',
  AddToCart: 'add_to_cart',
  InitiateCheckout: 'begin_checkout',
  AddPaymentInfo: 'add_payment_info',
  ViewContent: 'view_item',
  Search: 'search',
  AddToWishlist: 'add_to_wishlist',
  Lead: 'submit_lead_form',
  CompleteRegistration: 'sign_up',
  Subscribe: 'subscribe',
  StartTrial: 'start_trial',
  Contact: 'contact',
  Schedule: 'book_appointment',
};

/** Our page view (unless `event_map` names a custom event for it) is UET's page load. */
const isPageLoad = (item: DeliveryItem, ctx: DeliveryContext<MicrosoftSettings>) =>
  item.conversion.event_name === 'PageView' && !('PageView' in ctx.dest.event_map);

/**
 * The click id as Microsoft takes it: the GUID, with dashes. The landing URL carries it as 32
 * hex digits and the UET cookie adds a `-0`/`-1` session flag; both are the same GUID.
 */
export function formatMsclkid(raw: string): string {
  const hex = /^([0-9a-f]{32})(?:-[01])?$/i.exec(raw.trim())?.[1]?.toLowerCase();
  if (!hex) return raw.trim();
  return [0, 8, 12, 16, 20].map((at, i, a) => hex.slice(at, a[i + 1] ?? 32)).join('-');
}

/** `userData`: hashed email and E.164 phone, hashed user id, click and device ids, IP and UA. */
export function microsoftUserData(item: DeliveryItem): Record<string, string> {
  const u = item.event.user;
  const data: Record<string, string> = {};
  if (u.msclkid) data.msclkid = formatMsclkid(u.msclkid);
  if (u.email_sha256) data.em = u.email_sha256;
  if (u.phone_e164_sha256) data.ph = u.phone_e164_sha256;
  const external = hashedExternalId(item.event);
  if (external) data.externalId = external;
  if (u.idfa) data.idfa = u.idfa;
  if (u.gaid) data.gaid = u.gaid;
  if (u.ip) data.clientIpAddress = u.ip;
  if (u.user_agent) data.clientUserAgent = u.user_agent;
  return data;
}

/** One conversion as an element of `data`. */
export function microsoftEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<MicrosoftSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const e = item.event;
  const pageLoad = isPageLoad(item, ctx);
  const url = eventSourceUrl(e);
  const custom: Record<string, unknown> = { ...valueAndCurrency(item) };
  const order = givenOrderId(e);
  if (order) custom.transactionId = order;
  const ids = contentIds(e);
  if (ids) custom.itemIds = ids;
  const contents = capiContents(e);
  if (contents)
    custom.items = contents.map((x) => ({
      id: x.id,
      ...(x.quantity === undefined ? {} : { quantity: x.quantity }),
      ...(x.item_price === undefined ? {} : { price: x.item_price }),
    }));
  const search = e.properties.search_string ?? e.properties.search_term;
  if (typeof search === 'string') custom.searchTerm = search;
  return {
    eventType: pageLoad ? 'pageLoad' : 'custom',
    // Same id as the UET tag's event_id, so Microsoft counts the browser's and our copy once.
    eventId: c.event_id,
    ...(pageLoad
      ? {}
      : { eventName: platformEventName(ctx.dest, c.event_name, MICROSOFT_EVENT_NAMES) }),
    eventTime: c.event_time,
    ...(url ? { eventSourceUrl: url } : {}),
    // Denied consent is never sent (refuse); unknown consent is left to Microsoft's default.
    ...(e.consent.ads === true ? { adStorageConsent: 'G' } : {}),
    userData: microsoftUserData(item),
    ...(Object.keys(custom).length > 0 && !pageLoad ? { customData: custom } : {}),
  };
}

/** Microsoft's answer: `{eventsReceived, error?: {code, message, details[]}}`. */
interface MicrosoftAnswer {
  eventsReceived?: number;
  error?: {
    code?: string;
    message?: string;
    details?: Array<{
      index?: number;
      propertyName?: string;
      errorMessage?: string;
      isWarning?: boolean;
    }>;
  };
}

function readAnswer(body: string): MicrosoftAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as MicrosoftAnswer) : null;
  } catch {
    return null;
  }
}

type Detail = NonNullable<NonNullable<MicrosoftAnswer['error']>['details']>[number];

const describeDetail = (d: Detail) =>
  [d.propertyName, d.errorMessage].filter(Boolean).join(': ') || 'invalid';

/**
 * Reads Microsoft's answer into one verdict per conversion. Requests are sent with
 * `continueOnValidationError`, so a 2xx names the events it skipped in `error.details` by
 * index: those are dropped with Microsoft's words (the same event fails again), warnings are
 * not failures, the rest are delivered. Otherwise the status decides: 400 drops the batch,
 * 401/403 (token refused for this tag) and 404 (no such tag) pause the destination, 408, 429,
 * 5xx and network errors retry, honouring Retry-After.
 */
export function interpretMicrosoft(
  result: HttpResult,
  items: DeliveryItem[],
  nowMs: number,
): Interpretation {
  if (result.kind === 'network') {
    const v = classifyAttempt(result, nowMs);
    return { verdicts: items.map(() => v), detail: result.error };
  }
  const answer = readAnswer(result.bodyExcerpt);
  const failures = (answer?.error?.details ?? []).filter(
    (d) => !d.isWarning && typeof d.index === 'number',
  );
  const why =
    [
      answer?.error?.message,
      ...failures.slice(0, DETAIL_MESSAGES).map((d) => `event ${d.index}: ${describeDetail(d)}`),
    ]
      .filter(Boolean)
      .join('; ') ||
    result.bodyExcerpt ||
    `HTTP ${result.status}`;
  const s = result.status;
  if (s >= 200 && s < 300) {
    const verdicts = items.map((_, i): DeliveryVerdict => {
      const bad = failures.filter((d) => d.index === i);
      return bad.length
        ? { action: 'drop', reason: `refused by Microsoft: ${bad.map(describeDetail).join('; ')}` }
        : { action: 'done' };
    });
    return { verdicts, detail: why };
  }
  return { verdicts: items.map(() => statusVerdict(result, why, nowMs)), detail: why };
}

function statusVerdict(
  result: Extract<HttpResult, { kind: 'response' }>,
  why: string,
  nowMs: number,
): DeliveryVerdict {
  if (result.status === 401 || result.status === 403)
    return { action: 'pause', reason: `Conversions API token refused for this UET tag: ${why}` };
  if (result.status === 404) return { action: 'pause', reason: `no such UET tag: ${why}` };
  const v = classifyAttempt(result, nowMs);
  if (v.action === 'retry') return { ...v, reason: `${v.reason}: ${why}` };
  if (v.action === 'drop') return { action: 'drop', reason: `refused by Microsoft: ${why}` };
  return v;
}

/** Why Microsoft would refuse the event, or null. */
function microsoftRefusal(item: DeliveryItem, ctx: DeliveryContext<MicrosoftSettings>) {
  const c = item.conversion;
  if (item.event.consent.ads === false) return 'ads consent denied';
  if (ctx.dest.test_mode)
    return 'test_mode: the Microsoft Conversions API has no test channel, nothing sent';
  if (ctx.nowMs / 1000 - c.event_time > MICROSOFT_MAX_EVENT_AGE_S)
    return 'event too old: Microsoft accepts events up to 7 days old';
  if (isPageLoad(item, ctx) && !eventSourceUrl(item.event))
    return 'a page load needs the page URL (properties.url)';
  const { value, currency } = valueAndCurrency(item);
  if (value !== undefined && !currency) return 'Microsoft needs the currency of a conversion value';
  const u = microsoftUserData(item);
  return u.msclkid || u.em || u.ph || u.externalId || u.idfa || u.gaid || u.clientIpAddress
    ? null
    : 'no user identifier Microsoft accepts (msclkid, email, phone, user id, device id or IP)';
}

/**
 * Microsoft Advertising through the UET Conversions API: up to 1,000 events a request,
 * deduplicated against the UET tag by `eventId` + `eventName`, hashed identities only,
 * `msclkid` passed through. Microsoft has no test channel: `test_mode` sends nothing.
 */
export const microsoftAdsDestination: DestinationAdapter<MicrosoftSettings> = {
  type: 'microsoft_ads',
  settingsSchema: MicrosoftSettings,
  maxBatch: MICROSOFT_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  maxEventAgeS: () => MICROSOFT_MAX_EVENT_AGE_S,
  refuse: microsoftRefusal,
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, DEFAULT_BASE_URL);
    return {
      url: `${base}/v1/${encodeURIComponent(ctx.settings.tag_id)}/events`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ctx.settings.access_token}`,
        'user-agent': 'pixeltrail-microsoft/1',
      },
      // One malformed event costs itself, not the batch: Microsoft then names it by index.
      body: JSON.stringify({
        data: items.map((item) => microsoftEvent(item, ctx)),
        continueOnValidationError: true,
      }),
    };
  },
  interpret: interpretMicrosoft,
};
