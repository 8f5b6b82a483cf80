// Google Ads API offline click conversions, REST:
// https://developers.google.com/google-ads/api/reference/rpc/latest/ConversionUploadService/UploadClickConversions
// (request: UploadClickConversionsRequest, ClickConversion; errors: ConversionUploadError,
// QuotaErrorDetails; limits: https://developers.google.com/google-ads/api/docs/best-practices/quotas;
// click ids and enhanced conversions for leads:
// https://developers.google.com/google-ads/api/docs/conversions/upload-clicks).
import { type Static, Type } from '@sinclair/typebox';
import {
  classifyAttempt,
  type DeliveryVerdict,
  RETRY_AFTER_CAP_S,
} from '../../domain/delivery-policy.js';
import type { TrackedEvent } from '../../domain/event.js';
import type { DeliveryItem, DestinationAdapter, HttpResult, Interpretation } from './adapter.js';
import {
  describeError,
  type GoogleAdsError,
  readGoogleStatus,
  rowsNamedIn,
} from './google-ads-failure.js';
import { apiBase, orderId } from './platform-fields.js';

/** "Upload fewer than 2001 events in a single request" (TOO_MANY_CONVERSIONS_IN_REQUEST). */
export const MAX_CONVERSIONS_PER_REQUEST = 2000;
/** Clicks older than the longest click-through window (90 days) cannot be credited. */
export const MAX_CONVERSION_AGE_S = 90 * 86_400;
/** TOO_RECENT_EVENT / TOO_RECENT_CONVERSION_ACTION: "retry after 6 hours have passed". */
const TOO_RECENT_RETRY_MS = 6 * 3_600_000;
const DEFAULT_API_VERSION = 'v26';
const CUSTOMER_ID = '^\\d{3}-?\\d{3}-?\\d{4}$';

const GoogleAdsSettings = Type.Object(
  {
    customer_id: Type.String({ pattern: CUSTOMER_ID, description: 'Google Ads customer id' }),
    conversion_action: Type.String({
      pattern: '^(\\d+|customers/\\d+/conversionActions/\\d+)$',
      description: 'Conversion action id, or its resource name customers/…/conversionActions/…',
    }),
    developer_token: Type.String({ secret: true, description: 'developer-token header' }),
    access_token: Type.String({ secret: true, description: 'OAuth 2.0 access token' }),
    login_customer_id: Type.Optional(
      Type.String({ pattern: CUSTOMER_ID, description: 'Manager account id (login-customer-id)' }),
    ),
    api_version: Type.Optional(Type.String({ pattern: '^v\\d+$', description: 'e.g. v26' })),
  },
  { additionalProperties: false },
);
type GoogleAdsSettings = Static<typeof GoogleAdsSettings>;

const digits = (id: string) => id.replace(/-/g, '');

/** The conversion action's resource name, from an id or a resource name. */
export function conversionActionName(s: GoogleAdsSettings): string {
  return /^\d+$/.test(s.conversion_action)
    ? `customers/${digits(s.customer_id)}/conversionActions/${s.conversion_action}`
    : s.conversion_action;
}

/** `yyyy-mm-dd hh:mm:ss+00:00`, the timezone-qualified form ClickConversion requires. */
export function conversionDateTime(unixS: number): string {
  return `${new Date(unixS * 1000).toISOString().slice(0, 19).replace('T', ' ')}+00:00`;
}

/**
 * The one click id a conversion may carry (GBRAID_WBRAID_BOTH_SET otherwise): the gclid, else
 * the web-to-web wbraid, else the app gbraid. A click touch credited to this destination
 * carries the id the ads' tracking template put in `/c`'s `click_id` (ValueTrack `{gclid}`).
 */
export function clickId(
  item: DeliveryItem,
): { gclid: string } | { wbraid: string } | { gbraid: string } | null {
  const u = item.event.user;
  if (u.gclid) return { gclid: u.gclid };
  if (u.wbraid) return { wbraid: u.wbraid };
  if (u.gbraid) return { gbraid: u.gbraid };
  const a = item.conversion.attribution;
  return a?.type === 'click' && a.click_id ? { gclid: a.click_id } : null;
}

/**
 * Enhanced-conversion identifiers: `hashedEmail`, and `hashedPhoneNumber` hashed the way
 * Google normalizes phones (E.164 with the `+`). No `addressInfo`: ClickConversion's
 * user_identifiers say "Only hashed_email and hashed_phone_number are supported for conversion
 * uploads" (https://developers.google.com/google-ads/api/reference/rpc/latest/ClickConversion);
 * the address (OfflineUserAddressInfo, country and postal code in clear) is taken by
 * ConversionAdjustmentUploadService and Store Sales only, so no clear value rides for Google.
 */
export function userIdentifiers(e: TrackedEvent): Array<Record<string, string>> {
  const ids: Array<Record<string, string>> = [];
  if (e.user.email_sha256) ids.push({ hashedEmail: e.user.email_sha256 });
  if (e.user.phone_e164_sha256) ids.push({ hashedPhoneNumber: e.user.phone_e164_sha256 });
  return ids;
}

/** Why Google Ads could not match the conversion (no click id, no identifier), or null. */
export function googleAdsUnmatchable(item: DeliveryItem): string | null {
  return !clickId(item) && userIdentifiers(item.event).length === 0
    ? 'no gclid, gbraid or wbraid and no hashed email: Google Ads cannot match it'
    : null;
}

function clickConversion(item: DeliveryItem, action: string): Record<string, unknown> {
  const c = item.conversion;
  const click = clickId(item);
  const ids = userIdentifiers(item.event);
  return {
    conversionAction: action,
    conversionDateTime: conversionDateTime(c.event_time),
    ...(c.value !== null ? { conversionValue: c.value } : {}),
    ...(c.currency ? { currencyCode: c.currency } : {}),
    orderId: orderId(item.event),
    ...click,
    // Identifiers go with a gclid or alone; a braid identifies the click by itself.
    ...(ids.length > 0 && (!click || 'gclid' in click) ? { userIdentifiers: ids } : {}),
    ...(item.event.consent.ads === true ? { consent: { adUserData: 'GRANTED' } } : {}),
  };
}

/**
 * Google Ads click conversions: up to 2000 a request, always `partialFailure: true` (the API
 * requires it), `validateOnly` in test mode; each row keyed by click id or hashed email.
 */
export const googleAdsDestination: DestinationAdapter<GoogleAdsSettings> = {
  type: 'google_ads',
  settingsSchema: GoogleAdsSettings,
  maxBatch: MAX_CONVERSIONS_PER_REQUEST,
  defaultBaseUrl: 'https://googleads.googleapis.com',
  maxEventAgeS: () => MAX_CONVERSION_AGE_S,
  refuse(item, { nowMs }) {
    if (nowMs / 1000 - item.event.event_time > MAX_CONVERSION_AGE_S)
      return 'conversion older than the 90-day Google Ads upload window';
    return googleAdsUnmatchable(item);
  },
  unmatchable: googleAdsUnmatchable,
  testChannel: () => 'Google Ads validateOnly (checked, nothing recorded)',
  buildRequest(items, { dest, settings }) {
    const base = apiBase(dest, 'https://googleads.googleapis.com');
    const version = settings.api_version ?? DEFAULT_API_VERSION;
    const action = conversionActionName(settings);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${settings.access_token}`,
      'developer-token': settings.developer_token,
    };
    if (settings.login_customer_id)
      headers['login-customer-id'] = digits(settings.login_customer_id);
    return {
      url: `${base}/${version}/customers/${digits(settings.customer_id)}:uploadClickConversions`,
      method: 'POST',
      headers,
      body: JSON.stringify({
        conversions: items.map((i) => clickConversion(i, action)),
        partialFailure: true,
        validateOnly: dest.test_mode,
      }),
    };
  },
  interpret: interpretGoogleAds,
};

/** Row errors that mean the conversion is already recorded: the repeat is absorbed. */
const ALREADY_RECORDED = new Set([
  'conversionUploadError.CLICK_CONVERSION_ALREADY_EXISTS',
  'conversionUploadError.ORDER_ID_ALREADY_IN_USE',
]);
/** Row errors Google says to retry later. */
const TOO_RECENT = new Set([
  'conversionUploadError.TOO_RECENT_EVENT',
  'conversionUploadError.TOO_RECENT_CONVERSION_ACTION',
]);

function rowVerdict(e: GoogleAdsError): DeliveryVerdict {
  const why = describeError(e);
  if (e.code && ALREADY_RECORDED.has(e.code)) return { action: 'done' };
  if (e.code && TOO_RECENT.has(e.code))
    return { action: 'retry', reason: why, retryAfterMs: TOO_RECENT_RETRY_MS };
  return { action: 'drop', reason: why };
}

/** A 200: the rows `partialFailureError` names failed, the others are done. */
function readPartialFailure(body: string, n: number): Interpretation {
  const failure = readGoogleStatus(body, 'partialFailureError');
  const verdicts: DeliveryVerdict[] = Array.from({ length: n }, () => ({ action: 'done' }));
  if (!failure || failure.errors.length === 0) {
    // "Results are not returned when validate_only is true": a test-mode answer.
    const what = /"results"\s*:/.test(body) ? 'uploaded' : 'validated, nothing recorded';
    return { verdicts, detail: `${n} conversion(s) ${what}` };
  }
  const notes: string[] = [];
  const placed = new Set<number>();
  for (const e of failure.errors) {
    if (e.index !== null && e.index < n) {
      verdicts[e.index] = rowVerdict(e);
      placed.add(e.index);
      notes.push(`conversions[${e.index}] ${describeError(e)}`);
    } else if (failure.complete) {
      // An error naming no row is about them all.
      for (let i = 0; i < n; i++) verdicts[i] = rowVerdict(e);
      notes.push(describeError(e));
    }
  }
  if (!failure.complete) {
    // Details cut off: the Status message still says "…, at conversions[N].field".
    const message = (failure.message ?? '').replace(/\s+/g, ' ').trim();
    for (const i of rowsNamedIn(failure.message)) {
      if (i >= n || placed.has(i)) continue;
      verdicts[i] = { action: 'drop', reason: message.slice(0, 300) };
      notes.push(`conversions[${i}] ${message.slice(0, 200)}`);
    }
  }
  const failed = verdicts.filter((v) => v.action !== 'done').length;
  let detail = `${n - failed} of ${n} conversion(s) accepted; ${notes.join('; ')}`;
  if (!failure.complete)
    detail += '; response cut short: rows it did not name are counted as accepted';
  return { verdicts, detail };
}

/**
 * Reads the answer of uploadClickConversions (STYLE rule 8):
 * - 200: done, except the rows `partialFailureError` names by index
 *   (`details[].errors[].location.fieldPathElements[{fieldName:"conversions", index}]`),
 *   dropped with Google's message; TOO_RECENT_* rows retried in 6 h; "already exists" rows
 *   are done (an earlier attempt recorded them).
 * - UNAUTHENTICATED (401) and PERMISSION_DENIED (403): bad token, developer token or
 *   account access; the destination pauses.
 * - RESOURCE_EXHAUSTED (429): retried after `quotaErrorDetails.retryDelay` or Retry-After.
 * - INVALID_ARGUMENT (400), NOT_FOUND, FAILED_PRECONDITION: the request is refused; dropped.
 * - INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, network errors: retried.
 */
export function interpretGoogleAds(
  result: HttpResult,
  items: readonly DeliveryItem[],
  nowMs: number,
): Interpretation {
  const n = items.length;
  if (result.kind === 'network') {
    const v = classifyAttempt(result, nowMs);
    return { verdicts: items.map(() => v), detail: `network error: ${result.error}` };
  }
  if (result.status >= 200 && result.status < 300) return readPartialFailure(result.bodyExcerpt, n);
  const err = readGoogleStatus(result.bodyExcerpt, 'error');
  // The first error with a readable code says most; else the Status message.
  const first = err?.errors.find((e) => e.code !== null);
  const what = [
    `HTTP ${result.status}`,
    err?.status,
    first ? describeError(first) : (err?.message ?? result.bodyExcerpt.slice(0, 200)),
  ]
    .filter(Boolean)
    .join(' ');
  const verdict = errorVerdict(
    result,
    err?.status ?? null,
    err?.errors.find((e) => e.retryDelayS !== null)?.retryDelayS ?? null,
    what,
    nowMs,
  );
  let detail = what;
  if (verdict.action === 'retry' && verdict.retryAfterMs !== undefined)
    detail += `; retry after ${Math.round(verdict.retryAfterMs / 1000)} s`;
  if (verdict.action === 'pause') detail += '; destination paused until the credentials are fixed';
  return { verdicts: items.map(() => verdict), detail };
}

function errorVerdict(
  result: Extract<HttpResult, { kind: 'response' }>,
  status: string | null,
  retryDelayS: number | null,
  what: string,
  nowMs: number,
): DeliveryVerdict {
  switch (status) {
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return { action: 'pause', reason: what };
    case 'RESOURCE_EXHAUSTED': {
      const header = classifyAttempt(
        { kind: 'response', status: 429, retryAfter: result.retryAfter },
        nowMs,
      );
      const retryAfterMs =
        retryDelayS !== null
          ? Math.min(retryDelayS, RETRY_AFTER_CAP_S) * 1000
          : header.action === 'retry'
            ? header.retryAfterMs
            : undefined;
      return { action: 'retry', reason: `rate limited: ${what}`, retryAfterMs };
    }
    case 'INVALID_ARGUMENT':
    case 'NOT_FOUND':
    case 'FAILED_PRECONDITION':
      return { action: 'drop', reason: what };
    case 'INTERNAL':
    case 'UNAVAILABLE':
    case 'DEADLINE_EXCEEDED':
    case 'ABORTED':
      return { action: 'retry', reason: what };
    default: {
      const v = classifyAttempt(
        { kind: 'response', status: result.status, retryAfter: result.retryAfter },
        nowMs,
      );
      return v.action === 'done' ? v : { ...v, reason: what };
    }
  }
}
