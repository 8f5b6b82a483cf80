// GA4 Measurement Protocol: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
// (transport, JSON body, limits), user-provided data:
// https://developers.google.com/analytics/devguides/collection/ga4/uid-data, validation server:
// https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events,
// event names: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference/events
import { createHash } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { DestinationConfig } from '../../domain/config-types.js';
import { classifyAttempt } from '../../domain/delivery-policy.js';
import type { TrackedEvent } from '../../domain/event.js';
import type { DeliveryItem, DestinationAdapter, HttpResult, Interpretation } from './adapter.js';
import { apiBase, eventSourceUrl, orderId, platformEventName } from './platform-fields.js';

/** "Requests can have a maximum of 25 events" (one client_id and user_id per request). */
export const MP_MAX_EVENTS_PER_REQUEST = 25;
/** "Events can be backdated up to 72 hours" through `timestamp_micros`. */
export const MAX_EVENT_AGE_S = 72 * 3_600;
/** Item-level limit of an e-commerce event's `items`. */
const MAX_ITEMS = 200;
/** Parameter values must be 100 characters or fewer. */
const MAX_PARAM_CHARS = 100;
/** How many validation messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;

const Ga4Settings = Type.Object(
  {
    measurement_id: Type.String({ pattern: '^G-[A-Z0-9]+$', description: 'e.g. G-XXXXXXXXXX' }),
    api_secret: Type.String({ secret: true, description: 'Measurement Protocol API secret' }),
  },
  { additionalProperties: false },
);
type Ga4Settings = Static<typeof Ga4Settings>;

/** Our standard names as GA4's recommended events. */
export const GA4_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'page_view',
  ViewContent: 'view_item',
  Search: 'search',
  AddToCart: 'add_to_cart',
  AddToWishlist: 'add_to_wishlist',
  InitiateCheckout: 'begin_checkout',
  AddPaymentInfo: 'add_payment_info',
  Purchase: 'purchase',
  Lead: 'generate_lead',
  CompleteRegistration: 'sign_up',
};

/**
 * The GA4 name of an event: `event_map`, then the recommended event, else our name in GA's
 * own convention (snake_case; letters, digits and `_`; starts with a letter; ≤ 40 chars).
 */
export function ga4EventName(dest: DestinationConfig, name: string): string {
  const mapped = platformEventName(dest, name, GA4_EVENT_NAMES);
  if (mapped !== name || name in dest.event_map) return mapped;
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .toLowerCase()
    .replace(/^[^a-z]+|_+$/g, '')
    .slice(0, 40);
  return snake || 'custom_event';
}

/**
 * GA's `client_id` ("two positive numbers joined by a period", `<random>.<timestamp>` in the
 * `_ga` cookie). A `ga_client_id` property (from `gtag('get', …, 'client_id')` or the `_ga`
 * cookie) joins the browser's own GA user; else both numbers are derived from the ptid cookie
 * (or user id, IP+UA, event id), so one person keeps one client id across conversions.
 */
export function ga4ClientId(e: TrackedEvent): string {
  const given = e.properties.ga_client_id;
  const m = typeof given === 'string' ? /^(?:GA\d\.\d+\.)?(\d+\.\d+)$/.exec(given.trim()) : null;
  if (m) return m[1];
  const u = e.user;
  const seed =
    u.anonymous_id ??
    u.cookie_id ??
    (u.user_id ? `uid:${u.user_id}` : undefined) ??
    (u.ip && u.user_agent ? `ipua:${u.ip}|${u.user_agent}` : undefined) ??
    `event:${e.event_id}`;
  const h = createHash('sha256').update(`pixeltrail-ga4:${seed}`).digest();
  // Positive 31-bit numbers, as GA's own are.
  return `${(h.readUInt32BE(0) >>> 1) + 1}.${(h.readUInt32BE(4) >>> 1) + 1}`;
}

const clip = (v: string) => v.slice(0, MAX_PARAM_CHARS);

function eventParams(item: DeliveryItem, name: string): Record<string, unknown> {
  const { conversion: c, event: e } = item;
  const p = e.properties;
  const params: Record<string, unknown> = {
    // Per-event time, so events of one request keep their own.
    timestamp_micros: c.event_time * 1_000_000,
  };
  // GA requires `currency` with `value` (revenue metrics); a value without one is left out.
  if (c.value !== null && c.currency) {
    params.value = c.value;
    params.currency = c.currency;
  }
  if (p.content_ids?.length)
    params.items = p.content_ids.slice(0, MAX_ITEMS).map((id) => ({ item_id: clip(id) }));
  // GA deduplicates purchases by transaction_id: our order id, else the event id.
  if (name === 'purchase') params.transaction_id = clip(orderId(e));
  const url = eventSourceUrl(e);
  if (url) params.page_location = url.slice(0, 1000);
  const term = p.search_string ?? p.search_term;
  if (name === 'search' && typeof term === 'string') params.search_term = clip(term);
  if (c.attribution?.campaign_id) params.campaign_id = clip(c.attribution.campaign_id);
  return params;
}

/** The Measurement Protocol body for conversions of one person (see `maxBatch`). */
export function ga4Body(
  items: readonly DeliveryItem[],
  dest: DestinationConfig,
): Record<string, unknown> {
  const e = items[0].event;
  const u = e.user;
  const body: Record<string, unknown> = {
    client_id: ga4ClientId(e),
    timestamp_micros: items[0].conversion.event_time * 1_000_000,
  };
  // GA forbids PII in user_id; an email-looking id is left out.
  if (u.user_id && !u.user_id.includes('@')) body.user_id = u.user_id.slice(0, 256);
  // Email hashes match GA's rule (trimmed, lower-cased) except gmail dot removal; phones go
  // hashed with the `+` GA requires.
  const userData: Record<string, string[]> = {};
  if (u.email_sha256) userData.sha256_email_address = [u.email_sha256];
  if (u.phone_e164_sha256) userData.sha256_phone_number = [u.phone_e164_sha256];
  if (Object.keys(userData).length > 0) body.user_data = userData;
  if (e.consent.ads === true)
    body.consent = { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' };
  if (u.ip) body.ip_override = u.ip;
  if (u.user_agent) body.user_agent = u.user_agent;
  if (dest.test_mode) body.validation_behavior = 'ENFORCE_RECOMMENDATIONS';
  body.events = items.slice(0, MP_MAX_EVENTS_PER_REQUEST).map((item) => {
    const name = ga4EventName(dest, item.conversion.event_name);
    return { name, params: eventParams(item, name) };
  });
  return body;
}

/**
 * GA4 through the Measurement Protocol. A request carries one `client_id`/`user_id`, and the
 * worker's batches mix people, so each conversion goes alone (GA's own limit is 25 events).
 */
export const ga4Destination: DestinationAdapter<Ga4Settings> = {
  type: 'ga4',
  settingsSchema: Ga4Settings,
  maxBatch: 1,
  defaultBaseUrl: 'https://www.google-analytics.com',
  maxEventAgeS: () => MAX_EVENT_AGE_S,
  refuse(item, { nowMs }) {
    if (item.event.consent.analytics === false) return 'analytics consent denied';
    if (nowMs / 1000 - item.event.event_time > MAX_EVENT_AGE_S)
      return 'event older than 72 h: GA4 backdates Measurement Protocol events at most 72 h';
    return null;
  },
  testChannel: () => 'GA4 validation server (/debug/mp/collect, nothing recorded)',
  buildRequest(items, { dest, settings }) {
    const base = apiBase(dest, 'https://www.google-analytics.com');
    // The validation server answers what is wrong with a payload; nothing reaches reports.
    const path = dest.test_mode ? '/debug/mp/collect' : '/mp/collect';
    const query = new URLSearchParams({
      measurement_id: settings.measurement_id,
      api_secret: settings.api_secret,
    });
    return {
      url: `${base}${path}?${query}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ga4Body(items, dest)),
    };
  },
  interpret: interpretGa4,
};

interface ValidationMessage {
  fieldPath?: string;
  description?: string;
  validationCode?: string;
}

/** The validation server's `validationMessages`, or null when the body has none. */
export function validationMessages(body: string): ValidationMessage[] | null {
  try {
    const parsed = JSON.parse(body) as { validationMessages?: unknown };
    return Array.isArray(parsed.validationMessages) ? parsed.validationMessages : null;
  } catch {
    // An excerpt cut short: read the complete messages it holds.
    if (!body.includes('"validationMessages"')) return null;
    const codes = [...body.matchAll(/"validationCode"\s*:\s*"(\w+)"/g)].map((m) => m[1]);
    const texts = [...body.matchAll(/"description"\s*:\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    return codes.map((validationCode, i) => ({ validationCode, description: texts[i] }));
  }
}

/**
 * Reads GA's answer. The collection endpoint answers 2xx even for payloads it discards, so
 * a 2xx there only means "received" (the contract test checks the payload against the
 * documented schema, and test mode asks the validation server). The validation server's
 * `validationMessages` name what is wrong: a payload with messages is dropped, since sending
 * it again gets the same answer. Other statuses: the status class (DESIGN §7).
 */
export function interpretGa4(
  result: HttpResult,
  items: readonly DeliveryItem[],
  nowMs: number,
): Interpretation {
  const verdict = classifyAttempt(
    result.kind === 'network'
      ? result
      : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
    nowMs,
  );
  if (result.kind === 'network')
    return { verdicts: items.map(() => verdict), detail: `network error: ${result.error}` };
  if (verdict.action !== 'done') {
    const body = result.bodyExcerpt.replace(/\s+/g, ' ').trim().slice(0, 200);
    return { verdicts: items.map(() => verdict), detail: `HTTP ${result.status}: ${body}` };
  }
  const messages = validationMessages(result.bodyExcerpt);
  if (messages === null) {
    return {
      verdicts: items.map(() => verdict),
      detail: `HTTP ${result.status}: received (GA4 answers 2xx even for payloads it discards)`,
    };
  }
  if (messages.length === 0)
    return { verdicts: items.map(() => verdict), detail: 'validation server: no problems found' };
  const text = messages
    .slice(0, DETAIL_MESSAGES)
    .map((m) => `${m.validationCode ?? 'INVALID'}: ${m.description ?? m.fieldPath ?? ''}`.trim())
    .join('; ');
  const reason = `GA4 validation failed: ${text}`;
  return { verdicts: items.map(() => ({ action: 'drop', reason })), detail: reason };
}
