// Snap Conversions API v3, followed from:
// https://developers.snap.com/api/marketing-api/Conversions-API/UsingTheAPI (endpoint,
// access_token query parameter, `data[]` body, required parameters and match keys),
// https://developers.snap.com/api/marketing-api/Conversions-API/Parameters (user_data hashing
// and normalization, event names, custom_data),
// https://developers.snap.com/api/marketing-api/Conversions-API/Introduction (events up to 37
// days old), https://developers.snap.com/api/marketing-api/Conversions-API/VerifySetUp (test
// events through /events/validate; INVALID answers with their reasons) and
// https://developers.snap.com/api/marketing-api/Conversions-API/Deduplication (event_id).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { capiCustomData, capiUserData, valueAndCurrency } from './capi-user-data.js';
import { apiBase, eventSourceUrl, happenedOffline, platformEventName } from './platform-fields.js';

/** Events one request may carry (Snap's batch limit, as partner integrations enforce it). */
export const SNAP_MAX_EVENTS = 2000;
/** "Events can have a date (timestamp) of maximum 37 days back." */
export const SNAP_MAX_EVENT_AGE_S = 37 * 86_400;
/** How many of Snap's error messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;

const SnapSettings = Type.Object(
  {
    pixel_id: Type.String({ minLength: 1, description: 'Snap Pixel id' }),
    access_token: Type.String({ secret: true, description: 'Conversions API token' }),
  },
  { additionalProperties: false },
);
type SnapSettings = Static<typeof SnapSettings>;

/** Our standard names as Snap's standard events. */
export const SNAP_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'PAGE_VIEW',
  ViewContent: 'VIEW_CONTENT',
  Search: 'SEARCH',
  AddToCart: 'ADD_CART',
  AddToWishlist: 'ADD_TO_WISHLIST',
  InitiateCheckout: 'START_CHECKOUT',
  AddPaymentInfo: 'ADD_BILLING',
  Purchase: 'PURCHASE',
  // Snap has no lead event; a sign-up is the closest standard one.
  Lead: 'SIGN_UP',
  CompleteRegistration: 'SIGN_UP',
  Subscribe: 'SUBSCRIBE',
  StartTrial: 'START_TRIAL',
  Schedule: 'RESERVE',
};

/** Every event name Snap accepts; anything else is refused with "Unrecognized event type". */
export const SNAP_STANDARD_EVENTS = new Set([
  ...Object.values(SNAP_EVENT_NAMES),
  'ADD_TO_CART',
  'AD_CLICK',
  'AD_VIEW',
  'COMPLETE_TUTORIAL',
  'RATE',
  'LIST_VIEW',
  'LEVEL_COMPLETE',
  'ACHIEVEMENT_UNLOCKED',
  'SPENT_CREDITS',
  'SAVE',
  'SHARE',
  'INVITE',
  'LOGIN',
  'APP_INSTALL',
  'APP_OPEN',
  'CUSTOM_EVENT_1',
  'CUSTOM_EVENT_2',
  'CUSTOM_EVENT_3',
  'CUSTOM_EVENT_4',
  'CUSTOM_EVENT_5',
]);

/**
 * A store sale, phone or system-generated conversion (the contract's action_source) is
 * OFFLINE; otherwise a web event has a page URL (Snap requires `event_source_url` for WEB) and
 * the rest are OFFLINE.
 */
function actionSource(item: DeliveryItem): 'WEB' | 'OFFLINE' {
  return !happenedOffline(item.event) && eventSourceUrl(item.event) ? 'WEB' : 'OFFLINE';
}

function snapUserData(item: DeliveryItem): Record<string, unknown> {
  const u = item.event.user;
  return { ...capiUserData(item.event), ...(u.sc_click_id ? { sc_click_id: u.sc_click_id } : {}) };
}

/** One conversion as an element of `data`. */
export function snapEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<SnapSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const url = eventSourceUrl(item.event);
  const custom = capiCustomData(item);
  return {
    event_name: platformEventName(ctx.dest, c.event_name, SNAP_EVENT_NAMES),
    event_time: c.event_time,
    // Matches the Snap Pixel's client_dedup_id, so Snap counts one of the two.
    event_id: c.event_id,
    action_source: actionSource(item),
    ...(url ? { event_source_url: url } : {}),
    user_data: snapUserData(item),
    ...(Object.keys(custom).length > 0 ? { custom_data: custom } : {}),
  };
}

/** Snap's answer: `{status: VALID|INVALID, reason, errors?: {codes, error_msgs}}`. */
interface SnapAnswer {
  status?: string;
  reason?: string;
  errors?: { codes?: string[]; error_msgs?: string[] };
  event_logs?: Array<{ errors?: { error_msgs?: string[] } }>;
}

function readAnswer(body: string): SnapAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as SnapAnswer) : null;
  } catch {
    return null;
  }
}

/** Snap's own words: the reason and the first few error messages. */
function describe(a: SnapAnswer): string {
  const msgs = [
    ...(a.errors?.error_msgs ?? []),
    ...(a.event_logs ?? []).flatMap((l) => l.errors?.error_msgs ?? []),
  ].slice(0, DETAIL_MESSAGES);
  return [a.reason, ...msgs].filter(Boolean).join('; ') || 'no reason given';
}

/**
 * Reads Snap's answer into one verdict for the batch (Snap validates a request as a whole):
 * - 2xx with `status` not INVALID: delivered.
 * - INVALID (400 or 200): a required field, a timestamp out of range, unhashed or
 *   insufficient PII; the same events fail again, so they are dropped.
 * - 401/403: the token is wrong or cannot post to this pixel; pause the destination.
 * - 404: no such pixel; pause too, every request to it fails the same way.
 * - 429, 408, 5xx, network errors: retried, honouring Retry-After.
 */
export function snapVerdict(
  result: HttpResult,
  nowMs: number,
): { verdict: DeliveryVerdict; detail: string } {
  if (result.kind === 'network')
    return { verdict: classifyAttempt(result, nowMs), detail: result.error };
  const answer = readAnswer(result.bodyExcerpt);
  const why = answer ? describe(answer) : result.bodyExcerpt;
  const s = result.status;
  if (s >= 200 && s < 300 && answer?.status !== 'INVALID')
    return { verdict: { action: 'done' }, detail: why };
  if (s === 401 || s === 403)
    return {
      verdict: { action: 'pause', reason: `access token refused for this pixel: ${why}` },
      detail: why,
    };
  if (s === 404)
    return { verdict: { action: 'pause', reason: `invalid pixel id: ${why}` }, detail: why };
  const byStatus = classifyAttempt(result, nowMs);
  if (byStatus.action === 'retry') {
    const after = byStatus.retryAfterMs;
    const label = s === 429 ? 'rate limited' : byStatus.reason;
    return {
      verdict: {
        ...byStatus,
        reason: `${label}${after === undefined ? '' : `, retry after ${Math.round(after / 1000)} s`}: ${why}`,
      },
      detail: why,
    };
  }
  return { verdict: { action: 'drop', reason: `events refused by Snap: ${why}` }, detail: why };
}

/** Why Snap could not match the conversion to a person, or null. */
export function snapUnmatchable(item: DeliveryItem): string | null {
  const u = capiUserData(item.event);
  return u.em || u.ph || (u.client_ip_address && u.client_user_agent)
    ? null
    : 'no match key Snap accepts (email, phone, or IP + user agent)';
}

/**
 * Snapchat through the Conversions API v3: up to 2,000 conversions a request, deduplicated
 * against the Snap Pixel by `event_id`, hashed identities only, `sc_click_id` passed through.
 * `test_mode` posts to `/events/validate`, Snap's Test Event Tool, which stores nothing.
 */
export const snapchatDestination: DestinationAdapter<SnapSettings> = {
  type: 'snapchat',
  settingsSchema: SnapSettings,
  maxBatch: SNAP_MAX_EVENTS,
  defaultBaseUrl: 'https://tr.snapchat.com',
  maxEventAgeS: () => SNAP_MAX_EVENT_AGE_S,
  refuse(item, ctx) {
    const c = item.conversion;
    if (ctx.nowMs / 1000 - c.event_time > SNAP_MAX_EVENT_AGE_S)
      return 'event too old: Snap accepts events up to 37 days old';
    const name = platformEventName(ctx.dest, c.event_name, SNAP_EVENT_NAMES);
    // An event_map target is trusted; an unmapped custom name would fail the whole batch.
    if (!(c.event_name in ctx.dest.event_map) && !SNAP_STANDARD_EVENTS.has(name))
      return `"${c.event_name}" has no Snap event; map it with event_map (e.g. to CUSTOM_EVENT_1)`;
    const { value, currency } = valueAndCurrency(item);
    if (name === 'PURCHASE' && (value === undefined || !currency))
      return 'Snap requires value and currency on PURCHASE events';
    return snapUnmatchable(item);
  },
  unmatchable: snapUnmatchable,
  testChannel: () => 'Snap /events/validate (Test Event Tool, nothing stored)',
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, 'https://tr.snapchat.com');
    const path = ctx.dest.test_mode ? 'events/validate' : 'events';
    const token = encodeURIComponent(ctx.settings.access_token);
    return {
      url: `${base}/v3/${encodeURIComponent(ctx.settings.pixel_id)}/${path}?access_token=${token}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'pixeltrail-snapchat/1' },
      body: JSON.stringify({ data: items.map((item) => snapEvent(item, ctx)) }),
    };
  },
  interpret(result, items, nowMs): Interpretation {
    const { verdict, detail } = snapVerdict(result, nowMs);
    return { verdicts: items.map(() => verdict), detail };
  },
};
