// The Trade Desk Real-Time Conversion Events API, followed from
// https://partner.thetradedesk.com/v3/portal/data/doc/DataConversionEventsApi (partner portal,
// behind a login) as The Trade Desk publishes it outside the portal: its own server-side GTM
// template "The Trade Desk Conversion Events Server-side Tag" (endpoint, the `data[]` body,
// tracker_id / adv / merchant_id, event_name, adid + adid_type TDID|UID2|EUID|IDL|DAID|IDFA|
// AAID|NAID, client_ip, referrer_url, order_id, value, currency, items[] item_code/name/qty/
// price/cat, td1..td10), its Adobe event-forwarding extension
// https://experienceleague.adobe.com/en/docs/experience-platform/tags/extensions/server/thetradedesk/overview
// and the documented sample request (`imp`, the impression the conversion is attributed to, a
// 36-character id; `data_processing_option` {policies: ["LDU"], region: "US-CO"}).
// The API takes no credential: the advertiser and tracker ids name the account.
import { type Static, Type } from '@sinclair/typebox';
import { underLimitedDataUse } from '../../domain/consent.js';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type { TrackedEvent } from '../../domain/event.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { capiContents, contentIds, givenOrderId, valueAndCurrency } from './capi-user-data.js';
import { apiBase, eventSourceUrl, platformEventName } from './platform-fields.js';

/** Conversions one request carries: TTD states no limit outside the portal; 500 stays modest. */
export const TTD_MAX_EVENTS = 500;
/** How many of TTD's per-event errors the delivery log keeps. */
const DETAIL_MESSAGES = 3;
const DEFAULT_BASE_URL = 'https://insight.adsrvr.org';

const TradeDeskSettings = Type.Object(
  {
    advertiser_id: Type.String({
      minLength: 1,
      description: 'Advertiser ID (Advertiser Preferences in The Trade Desk), sent as adv',
    }),
    tracker_id: Type.String({
      minLength: 1,
      description: 'Event tracker ID (Data → Event tracking) the conversions are recorded under',
    }),
    merchant_id: Type.Optional(
      Type.String({ minLength: 1, description: 'Merchant ID, when TTD onboarded you as one' }),
    ),
    limited_data_use: Type.Optional(
      Type.Boolean({
        description:
          'Send conversions of people who opted out of sale (GPC, US Privacy, GPP) with Limited Data Use instead of dropping them',
      }),
    ),
    ldu_region: Type.Optional(
      Type.String({
        pattern: '^US-[A-Z]{2}$',
        description: 'The US state (US-CA, US-CO…) whose law those opt-outs fall under',
      }),
    ),
  },
  { additionalProperties: false },
);
type TradeDeskSettings = Static<typeof TradeDeskSettings>;

/** Our standard names as the event names TTD's trackers use by default. */
export const TTD_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'sitevisit',
  ViewContent: 'viewitem',
  Search: 'searchitem',
  AddToCart: 'addtocart',
  AddToWishlist: 'wishlistitem',
  InitiateCheckout: 'startcheckout',
  Purchase: 'purchase',
  Lead: 'lead',
  CompleteRegistration: 'signup',
};

/**
 * The impression the conversion is credited to. For TTD a click carries the impression id
 * too (the landing URL's `%%TTD_IMPRESSIONID%%` macro), so a click touch's id is one; an
 * event that names an `imp_id` itself is the last resort.
 */
export function ttdImpressionId(item: DeliveryItem): string | undefined {
  const a = item.conversion.attribution;
  return a?.imp_id ?? a?.click_id ?? item.event.user.imp_id ?? undefined;
}

/** The user or device id TTD matches on, strongest first: its own TDID, then a device id. */
function advertisingId(item: DeliveryItem): { adid: string; adid_type: string } | undefined {
  const u = item.event.user;
  if (u.tdid) return { adid: u.tdid, adid_type: 'TDID' };
  if (u.idfa) return { adid: u.idfa, adid_type: 'IDFA' };
  if (u.gaid) return { adid: u.gaid, adid_type: 'AAID' };
  return undefined;
}

/** `items`: the products of `contents` (code, quantity, price), else the `content_ids`. */
function ttdItems(e: TrackedEvent): Array<Record<string, unknown>> | undefined {
  const contents = capiContents(e);
  if (contents)
    return contents.map((c) => ({
      item_code: c.id,
      ...(c.quantity === undefined ? {} : { qty: c.quantity }),
      ...(c.item_price === undefined ? {} : { price: c.item_price }),
    }));
  return contentIds(e)?.map((id) => ({ item_code: id }));
}

/** One conversion as an element of `data`. */
export function ttdEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<TradeDeskSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const s = ctx.settings;
  const { value, currency } = valueAndCurrency(item);
  const imp = ttdImpressionId(item);
  const order = givenOrderId(item.event);
  const url = eventSourceUrl(item.event);
  const items = ttdItems(item.event);
  return {
    tracker_id: s.tracker_id,
    adv: s.advertiser_id,
    ...(s.merchant_id ? { merchant_id: s.merchant_id } : {}),
    event_name: platformEventName(ctx.dest, c.event_name, TTD_EVENT_NAMES),
    ...(value === undefined ? {} : { value }),
    ...(currency ? { currency } : {}),
    // TTD has no event id: the order id is what it deduplicates purchases by.
    ...(order ? { order_id: order } : {}),
    ...(imp ? { imp } : {}),
    ...advertisingId(item),
    ...(item.event.user.ip ? { client_ip: item.event.user.ip } : {}),
    ...(url ? { referrer_url: url } : {}),
    ...(items ? { items } : {}),
    // td1 carries our event id so a conversion can be found again in TTD's reports.
    td1: c.event_id,
    // A person who opted out of sale, sent only because the destination opts for LDU.
    ...(underLimitedDataUse(s, item.event.consent)
      ? { data_processing_option: { policies: ['LDU'], region: s.ldu_region } }
      : {}),
  };
}

/** TTD's answer: `{Message, EventResponses: [{EventIndex, EventErrors, Successful}]}`. */
interface TtdAnswer {
  Message?: string | null;
  EventResponses?: Array<{
    EventIndex?: number;
    Successful?: boolean;
    EventErrors?: Array<{ Error?: string; ErrorMessage?: string }>;
  }>;
}

function readAnswer(body: string): TtdAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as TtdAnswer) : null;
  } catch {
    return null;
  }
}

/** TTD's own words for one event's errors: `Error: ErrorMessage`. */
function eventErrors(r: NonNullable<TtdAnswer['EventResponses']>[number]): string {
  const words = (r.EventErrors ?? []).map((e) =>
    [e.Error, e.ErrorMessage].filter(Boolean).join(': '),
  );
  return words.filter(Boolean).join('; ') || 'refused without a reason';
}

/**
 * Reads TTD's answer into one verdict per conversion:
 * - an `EventResponses` entry naming the event decides it: `Successful: false` drops it with
 *   TTD's errors (the same event fails again), `Successful: true` delivers it;
 * - otherwise the status: 2xx delivered; 402 (the tracker is not defined for this advertiser)
 *   and 401/403 pause the destination, every request fails the same way; 400/404/422 drop;
 *   408, 429, 5xx and network errors retry, honouring Retry-After.
 */
export function interpretTradeDesk(
  result: HttpResult,
  items: DeliveryItem[],
  nowMs: number,
): Interpretation {
  if (result.kind === 'network') {
    const v = classifyAttempt(result, nowMs);
    return { verdicts: items.map(() => v), detail: result.error };
  }
  const answer = readAnswer(result.bodyExcerpt);
  const byIndex = new Map<number, NonNullable<TtdAnswer['EventResponses']>[number]>();
  for (const r of answer?.EventResponses ?? [])
    if (typeof r.EventIndex === 'number') byIndex.set(r.EventIndex, r);
  const failed = [...byIndex.values()].filter((r) => r.Successful === false);
  const why =
    failed
      .slice(0, DETAIL_MESSAGES)
      .map((r) => `event ${r.EventIndex}: ${eventErrors(r)}`)
      .join('; ') ||
    answer?.Message ||
    result.bodyExcerpt ||
    `HTTP ${result.status}`;
  const whole = statusVerdict(result, why, nowMs);
  const verdicts = items.map((_, i): DeliveryVerdict => {
    const r = byIndex.get(i);
    if (r?.Successful === false)
      return { action: 'drop', reason: `refused by The Trade Desk: ${eventErrors(r)}` };
    if (r?.Successful === true) return { action: 'done' };
    return whole;
  });
  return { verdicts, detail: why };
}

function statusVerdict(
  result: Extract<HttpResult, { kind: 'response' }>,
  why: string,
  nowMs: number,
): DeliveryVerdict {
  const s = result.status;
  if (s === 402)
    return {
      action: 'pause',
      reason: `tracker or advertiser not set up for real-time conversions in The Trade Desk: ${why}`,
    };
  const v = classifyAttempt(result, nowMs);
  if (v.action === 'done') return v;
  if (v.action === 'pause') return { action: 'pause', reason: `The Trade Desk refused: ${why}` };
  if (v.action === 'retry') return { ...v, reason: `${v.reason}: ${why}` };
  return { action: 'drop', reason: `refused by The Trade Desk: ${why}` };
}

/**
 * The Trade Desk through its Real-Time Conversion Events API: view-through and click-through
 * conversions tied to the TTD impression (`imp`) that won attribution, with the visitor's TDID
 * (or a device id) and IP when known. TTD has no test channel: `test_mode` sends nothing.
 */
export const tradeDeskDestination: DestinationAdapter<TradeDeskSettings> = {
  type: 'tradedesk',
  settingsSchema: TradeDeskSettings,
  maxBatch: TTD_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  checkSettings(s) {
    // TTD's LDU names the state; without one the opt-out could not be passed on.
    return s.limited_data_use === true && !s.ldu_region
      ? [{ field: 'ldu_region', message: 'is required when limited_data_use is true' }]
      : [];
  },
  refuse(item, ctx) {
    const consent = item.event.consent;
    if (consent.ads === false && !underLimitedDataUse(ctx.settings, consent))
      return 'ads consent denied';
    if (ctx.dest.test_mode)
      return 'test_mode: The Trade Desk has no test channel for conversions, nothing sent';
    if (!ttdImpressionId(item) && !advertisingId(item))
      return 'nothing The Trade Desk can attribute: no TTD impression id (imp), TDID or device id';
    const { value, currency } = valueAndCurrency(item);
    if (value !== undefined && !currency)
      return 'The Trade Desk needs the currency of a conversion value';
    return null;
  },
  buildRequest(items, ctx) {
    return {
      url: `${apiBase(ctx.dest, DEFAULT_BASE_URL)}/track/realtimeconversion`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'pixeltrail-tradedesk/1' },
      body: JSON.stringify({ data: items.map((item) => ttdEvent(item, ctx)) }),
    };
  },
  interpret: interpretTradeDesk,
};
