// LinkedIn Conversions API, followed from:
// https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api
// (POST /rest/conversionEvents, Bearer token, `LinkedIn-Version: YYYYMM` and
// `X-Restli-Protocol-Version: 2.0.0` on every call, batches with `X-RestLi-Method: BATCH_CREATE`
// and `elements[]` answered per element, up to 5,000 events a batch, events at most 90 days
// old), https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api-schema
// (conversion URN, conversionHappenedAt in epoch ms, conversionValue {currencyCode, amount as a
// string}, eventId, user.userIds with SHA256_EMAIL / LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID),
// https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling
// (`{status, serviceErrorCode, code, message}`) and
// https://learn.microsoft.com/en-us/linkedin/marketing/versioning (426 for a sunset version).
// The schema page's `user.userInfo` takes firstName and lastName (both, when userInfo is sent),
// title, companyName and countryCode in clear; the clear values ride on the outbox row only.
import { type Static, Type } from '@sinclair/typebox';
import type { DestinationConfig } from '../../domain/config-types.js';
import { type ClearUserField, normalizeCountry } from '../../domain/customer-info.js';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import { valueAndCurrency } from './capi-user-data.js';
import { apiBase } from './platform-fields.js';

/** A batch request carries at most 5,000 conversion events. */
export const LINKEDIN_MAX_EVENTS = 5000;
/** LinkedIn rejects conversions that happened more than 90 days ago. */
export const LINKEDIN_MAX_EVENT_AGE_S = 90 * 86_400;
/** A Marketing API version LinkedIn serves (each for about a year); `api_version` overrides. */
export const LINKEDIN_DEFAULT_VERSION = '202603';
const DEFAULT_BASE_URL = 'https://api.linkedin.com';
const CONVERSION_URN_RE = /^urn:lla:llaPartnerConversion:[0-9]+$/;
/** How many failed rows the delivery log names. */
const DETAIL_ROWS = 3;

const LinkedinSettings = Type.Object(
  {
    conversion_urn: Type.String({
      pattern: CONVERSION_URN_RE.source,
      description: 'Conversion rule, e.g. urn:lla:llaPartnerConversion:123',
    }),
    access_token: Type.String({
      secret: true,
      description: 'OAuth token with rw_conversions (Campaign Manager → Conversions API)',
    }),
    api_version: Type.Optional(
      Type.String({ pattern: '^[0-9]{6}$', description: 'LinkedIn-Version header, YYYYMM' }),
    ),
  },
  { additionalProperties: false },
);
type LinkedinSettings = Static<typeof LinkedinSettings>;

/**
 * The conversion rule of an event. LinkedIn has no event names: the rule says what was
 * converted, so `event_map` may send an event to another rule by its URN
 * (`{ Lead: 'urn:lla:llaPartnerConversion:456' }`); otherwise `conversion_urn`.
 */
export function linkedinConversionUrn(
  dest: DestinationConfig,
  settings: LinkedinSettings,
  eventName: string,
): string {
  const mapped = dest.event_map[eventName];
  return mapped && CONVERSION_URN_RE.test(mapped) ? mapped : settings.conversion_urn;
}

/** `user.userIds`: the hashed email and the `li_fat_id` first-party click cookie. */
export function linkedinUserIds(item: DeliveryItem): Array<{ idType: string; idValue: string }> {
  const u = item.event.user;
  const ids: Array<{ idType: string; idValue: string }> = [];
  // SHA-256 of the trimmed, lower-cased email, ingest's normalization.
  if (u.email_sha256) ids.push({ idType: 'SHA256_EMAIL', idValue: u.email_sha256 });
  if (u.li_fat_id)
    ids.push({ idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: u.li_fat_id });
  return ids;
}

/** The clear values `userInfo` is made of; they ride on the outbox row. */
export const LINKEDIN_CLEAR_USER: readonly ClearUserField[] = [
  'first_name',
  'last_name',
  'country',
];

/**
 * `user.userInfo`: first and last name (both, or no userInfo), and the ISO alpha-2 country
 * code when known, in clear from the outbox row's values. The event contract has no company
 * name or job title, so neither is sent.
 */
export function linkedinUserInfo(item: DeliveryItem): Record<string, string> | null {
  const c = item.event.clear_user;
  const firstName = c?.first_name?.trim();
  const lastName = c?.last_name?.trim();
  if (!firstName || !lastName) return null;
  const country = c?.country ? normalizeCountry(c.country) : null;
  return { firstName, lastName, ...(country ? { countryCode: country.toUpperCase() } : {}) };
}

function userInfoField(info: Record<string, string> | null): { userInfo?: Record<string, string> } {
  return info ? { userInfo: info } : {};
}

/** One conversion as an element of `elements`. */
export function linkedinElement(
  item: DeliveryItem,
  ctx: DeliveryContext<LinkedinSettings>,
): Record<string, unknown> {
  const c = item.conversion;
  const { value, currency } = valueAndCurrency(item);
  return {
    conversion: linkedinConversionUrn(ctx.dest, ctx.settings, c.event_name),
    conversionHappenedAt: c.event_time * 1000,
    ...(value !== undefined && currency
      ? { conversionValue: { currencyCode: currency, amount: String(value) } }
      : {}),
    user: { userIds: linkedinUserIds(item), ...userInfoField(linkedinUserInfo(item)) },
    // The same id the Insight Tag sends as event_id, so LinkedIn keeps one of the two.
    eventId: c.event_id,
  };
}

/** A LinkedIn error body, or one element's outcome in a batch answer. */
export interface LinkedinError {
  status: number | null;
  serviceErrorCode: number | null;
  code: string | null;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The `{status, serviceErrorCode, code, message}` of a body, also from one cut short. */
export function readLinkedinError(body: string): LinkedinError | null {
  try {
    const o: unknown = JSON.parse(body);
    if (!isObj(o) || (typeof o.message !== 'string' && typeof o.status !== 'number')) return null;
    return {
      status: typeof o.status === 'number' ? o.status : null,
      serviceErrorCode: typeof o.serviceErrorCode === 'number' ? o.serviceErrorCode : null,
      code: typeof o.code === 'string' ? o.code : null,
      message: typeof o.message === 'string' ? o.message : '',
    };
  } catch {
    const message = /"message"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(body)?.[1];
    if (message === undefined) return null;
    const service = /"serviceErrorCode"\s*:\s*(\d+)/.exec(body)?.[1];
    return {
      status: Number(/"status"\s*:\s*(\d+)/.exec(body)?.[1]) || null,
      serviceErrorCode: service ? Number(service) : null,
      code: /"code"\s*:\s*"(\w+)"/.exec(body)?.[1] ?? null,
      message: message.replace(/\\n/g, '\n').replace(/\\"/g, '"'),
    };
  }
}

/**
 * The rows a 422 names: LinkedIn fails the whole batch and lists each bad element as
 * `Index: N, ERROR :: reason` lines in `message`.
 */
export function rowsNamed(message: string): Map<number, string> {
  const rows = new Map<number, string>();
  for (const m of message.matchAll(/Index:\s*(\d+),\s*ERROR\s*::\s*([^\n]*)/g))
    rows.set(Number(m[1]), m[2].trim());
  return rows;
}

const clean = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 300);

function describe(status: number, e: LinkedinError | null, body: string): string {
  if (!e) return `HTTP ${status}: ${clean(body).slice(0, 200)}`;
  const codes = [
    e.code,
    e.serviceErrorCode === null ? null : `serviceErrorCode ${e.serviceErrorCode}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `HTTP ${status}${codes ? ` (${codes})` : ''}: ${clean(e.message) || 'no message'}`;
}

/** A 2xx: each element's own `status` (201 created); a failed element gets its status class. */
function perElement(body: string, n: number, nowMs: number): Interpretation {
  let elements: unknown[] = [];
  try {
    const o: unknown = JSON.parse(body);
    if (isObj(o) && Array.isArray(o.elements)) elements = o.elements;
  } catch {
    // An excerpt cut short: the element statuses it shows, in order (an element's own `error`
    // object also has a status, but after a `:`, not after `[` or `,`).
    elements = [...body.matchAll(/[[,]\s*\{\s*"status"\s*:\s*(\d+)/g)].map((m) => ({
      status: +m[1],
    }));
  }
  const notes: string[] = [];
  const verdicts = Array.from({ length: n }, (_, i): DeliveryVerdict => {
    const el = elements[i];
    const status = isObj(el) && typeof el.status === 'number' ? el.status : 201;
    if (status < 300) return { action: 'done' };
    const err = isObj(el) && isObj(el.error) ? el.error : {};
    const why = `element ${i}: HTTP ${status}: ${clean(String(err.message ?? 'no message'))}`;
    if (notes.length < DETAIL_ROWS) notes.push(why);
    const v = classifyAttempt({ kind: 'response', status }, nowMs);
    return v.action === 'done' ? v : { ...v, reason: why };
  });
  const done = verdicts.filter((v) => v.action === 'done').length;
  return {
    verdicts,
    detail: `${done} of ${n} conversion(s) created${notes.length ? `; ${notes.join('; ')}` : ''}`,
  };
}

/** A 422: the named rows are dropped; the others were refused with them and are sent again. */
function perNamedRow(e: LinkedinError | null, what: string, n: number): Interpretation {
  const named = rowsNamed(e?.message ?? '');
  if (named.size === 0)
    return {
      verdicts: Array.from({ length: n }, () => ({ action: 'drop', reason: what })),
      detail: what,
    };
  const notes: string[] = [];
  const verdicts = Array.from({ length: n }, (_, i): DeliveryVerdict => {
    const why = named.get(i);
    if (why === undefined)
      return { action: 'retry', reason: 'batch refused for another element; sent again' };
    if (notes.length < DETAIL_ROWS) notes.push(`elements[${i}] ${why}`);
    return { action: 'drop', reason: `LinkedIn refused the event: ${clean(why)}` };
  });
  return { verdicts, detail: `HTTP 422: ${named.size} of ${n} refused; ${notes.join('; ')}` };
}

/**
 * Reads LinkedIn's answer (STYLE rule 8):
 * - 2xx: done per element (`elements[i].status` 201); a failed element by its status class.
 * - 422: the batch is refused; the elements named by `Index: N, ERROR :: …` are dropped and the
 *   others retried (none named: the request itself is wrong, all dropped).
 * - 401 (serviceErrorCode 65600/65601/65602: invalid, revoked or expired token) and 403
 *   (missing rw_conversions or ad account role): the destination pauses.
 * - 426: the LinkedIn-Version sent is sunset; paused until `api_version` is raised.
 * - 429: throttled; retried, Retry-After honoured.
 * - 5xx and network errors: retried. 400/404 and other 4xx: dropped.
 */
export function interpretLinkedin(
  result: HttpResult,
  items: readonly DeliveryItem[],
  nowMs: number,
): Interpretation {
  const n = items.length;
  const all = (v: DeliveryVerdict, detail: string) => ({ verdicts: items.map(() => v), detail });
  if (result.kind === 'network')
    return all(classifyAttempt(result, nowMs), `network error: ${result.error}`);
  const s = result.status;
  if (s >= 200 && s < 300) return perElement(result.bodyExcerpt, n, nowMs);
  const err = readLinkedinError(result.bodyExcerpt);
  const what = describe(s, err, result.bodyExcerpt);
  if (s === 422) return perNamedRow(err, what, n);
  if (s === 401)
    return all(
      { action: 'pause', reason: `access token refused: ${what}` },
      `${what}; destination paused`,
    );
  if (s === 403)
    return all(
      { action: 'pause', reason: `permission denied: ${what}` },
      `${what}; destination paused`,
    );
  if (s === 426) {
    const reason = `LinkedIn-Version no longer served, raise api_version: ${what}`;
    return all({ action: 'pause', reason }, `${reason}; destination paused`);
  }
  const base = classifyAttempt(
    { kind: 'response', status: s, retryAfter: result.retryAfter },
    nowMs,
  );
  if (base.action === 'retry' && s === 429) {
    const wait = base.retryAfterMs;
    const reason = `rate limited${wait === undefined ? '' : `, retry after ${Math.round(wait / 1000)} s`}: ${what}`;
    return all({ ...base, reason }, reason);
  }
  return all(base.action === 'done' ? base : { ...base, reason: what }, what);
}

/** Why LinkedIn could not match the conversion to a member, or null. */
export function linkedinUnmatchable(item: DeliveryItem): string | null {
  return linkedinUserIds(item).length === 0
    ? 'no user id LinkedIn accepts: needs a hashed email or the li_fat_id click cookie'
    : null;
}

/**
 * LinkedIn through the Conversions API: batches of conversions for one conversion rule (or the
 * rule `event_map` names), deduplicated against the Insight Tag by `eventId`, identified by
 * hashed email and the `li_fat_id` click cookie only.
 */
export const linkedinDestination: DestinationAdapter<LinkedinSettings> = {
  type: 'linkedin',
  settingsSchema: LinkedinSettings,
  maxBatch: LINKEDIN_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  clearUser: LINKEDIN_CLEAR_USER,
  maxEventAgeS: () => LINKEDIN_MAX_EVENT_AGE_S,
  refuse(item, ctx) {
    if (item.event.consent.ads === false) return 'ads consent denied';
    // LinkedIn has no test channel: in test mode nothing may be recorded as a real conversion.
    if (ctx.dest.test_mode)
      return 'test_mode: the LinkedIn Conversions API has no test channel, nothing sent';
    if (ctx.nowMs / 1000 - item.conversion.event_time > LINKEDIN_MAX_EVENT_AGE_S)
      return 'event too old: LinkedIn rejects conversions more than 90 days old';
    return linkedinUnmatchable(item);
  },
  unmatchable: linkedinUnmatchable,
  buildRequest(items, ctx) {
    return {
      url: `${apiBase(ctx.dest, DEFAULT_BASE_URL)}/rest/conversionEvents`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ctx.settings.access_token}`,
        'linkedin-version': ctx.settings.api_version ?? LINKEDIN_DEFAULT_VERSION,
        'x-restli-protocol-version': '2.0.0',
        'x-restli-method': 'BATCH_CREATE',
        'user-agent': 'pixeltrail-linkedin/1',
      },
      body: JSON.stringify({ elements: items.map((item) => linkedinElement(item, ctx)) }),
    };
  },
  interpret: interpretLinkedin,
};
