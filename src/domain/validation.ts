import {
  CLEAR_USER_FIELDS,
  type ClearUserField,
  type ClearUserInfo,
  CUSTOMER_INFO_FIELDS,
  hashCustomerInfo,
} from './customer-info.js';
import { DEVICE_ID_KEYS, normalizeDeviceId } from './device-id.js';
import {
  ACTION_SOURCES,
  type ActionSource,
  type Consent,
  type ContentItem,
  type EventProperties,
  type EventSource,
  PLATFORM_ID_KEYS,
  type TrackedEvent,
  type UserKeys,
} from './event.js';
import { hashEmail, hashPhone, hashPhoneE164, isSha256Hex } from './identity.js';
import { canonicalIp } from './ip-address.js';
import { isCurrencyCode } from './money.js';
import { scrubUrl } from './url-scrub.js';
import type { FieldError } from './validation-error.js';

/** Events older than this are refused: ad platforms refuse them too (Meta: 7 days). */
export const MAX_EVENT_AGE_S = 7 * 86_400;
/** Clock skew we tolerate for events stamped in the future. */
export const MAX_FUTURE_SKEW_S = 300;
const MAX_NAME_CHARS = 100;
const MAX_ID_CHARS = 256;
const MAX_CONTENT_IDS = 200;
/**
 * How deep a property's objects and arrays may nest. Serialising a value nested thousands
 * deep overflows the stack at commit time, failing every event and request of that group
 * commit; no ad platform reads past a few levels.
 */
export const MAX_PROPERTY_DEPTH = 32;

/** What the caller knows about an event beyond its body. */
export interface ValidationContext {
  /** Now, Unix milliseconds. */
  nowMs: number;
  source: EventSource;
  /** The environment the caller is authorized for; an event naming another is refused. */
  envId?: string;
  newId: () => string;
  /** Identity seen on the request itself (IP, user agent, cookie); fills what the body lacks. */
  requestUser?: UserKeys;
  /**
   * The oldest `event_time` the event's destinations still take, in seconds, by event name
   * and action source (DESIGN §5); without it, MAX_EVENT_AGE_S.
   */
  maxEventAgeS?: (eventName: string, actionSource: ActionSource | undefined) => number;
  /**
   * The request's own address is the event's even when it was no usable address (the tag's
   * beacon, the event pixel): a page's `user.ip` is then never read.
   */
  ipFromRequest?: boolean;
}

export type ValidationResult =
  | { ok: true; event: TrackedEvent }
  | { ok: false; errors: FieldError[] };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * PostgreSQL's text cannot hold U+0000: one such id reaching a commit would fail the whole
 * batch, and with it the other requests committed in it. It is refused here, by name.
 */
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

function optString(o: Obj, key: string, path: string, errors: FieldError[]): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') {
    errors.push({ field: path, message: 'must be a string' });
    return undefined;
  }
  if (v.length > MAX_ID_CHARS) {
    errors.push({ field: path, message: `must be at most ${MAX_ID_CHARS} characters` });
    return undefined;
  }
  if (v.includes('\u0000')) {
    errors.push({ field: path, message: NUL_MESSAGE });
    return undefined;
  }
  return wellFormed(v);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Lone surrogates as U+FFFD, which is what a store's UTF-8 makes of them anyway: two ids
 * differing only there are then one id here too, as dedup must see them (else one batch
 * claims the same stored key twice).
 */
function wellFormed(v: string): string {
  return v.replace(LONE_SURROGATE, '\ufffd');
}

function hashedKey(
  user: Obj,
  clearKey: 'email' | 'phone',
  hash: (raw: string) => string | null,
  errors: FieldError[],
): string | undefined {
  const sha = optString(user, `${clearKey}_sha256`, `user.${clearKey}_sha256`, errors);
  if (sha !== undefined) {
    const lower = sha.toLowerCase();
    if (!isSha256Hex(lower)) {
      errors.push({ field: `user.${clearKey}_sha256`, message: 'must be a hex SHA-256 digest' });
      return undefined;
    }
    return lower;
  }
  const clear = optString(user, clearKey, `user.${clearKey}`, errors);
  if (clear === undefined) return undefined;
  const hashed = hash(clear);
  if (!hashed) errors.push({ field: `user.${clearKey}`, message: `is not a valid ${clearKey}` });
  return hashed ?? undefined;
}

/**
 * `user.ip` in its one spelling (ip-address.ts), so a server's `203.0.113.9` matches the
 * touch the pixel recorded from `::ffff:203.0.113.9`. Skipped when the request's own address
 * replaces it.
 */
function parseIp(user: Obj, errors: FieldError[]): string | undefined {
  const v = optString(user, 'ip', 'user.ip', errors);
  if (v === undefined || v.trim() === '') return undefined;
  const ip = canonicalIp(v);
  if (!ip) errors.push({ field: 'user.ip', message: 'is not a valid IP address' });
  return ip ?? undefined;
}

function parseUser(
  raw: unknown,
  clearOut: ClearUserInfo,
  errors: FieldError[],
  warnings: string[],
  ipSeen: boolean,
  nowYear: number,
): UserKeys {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    errors.push({ field: 'user', message: 'must be an object' });
    return {};
  }
  const user: UserKeys = {};
  for (const key of [
    'anonymous_id',
    'user_id',
    'user_agent',
    'click_id',
    'imp_id',
    ...PLATFORM_ID_KEYS,
  ] as const) {
    const v = optString(raw, key, `user.${key}`, errors);
    if (v !== undefined) user[key] = v;
  }
  const ip = ipSeen ? undefined : parseIp(raw, errors);
  if (ip) user.ip = ip;
  for (const key of DEVICE_ID_KEYS) {
    const v = optString(raw, key, `user.${key}`, errors);
    // An all-zero advertising id means the user opted out of tracking: it is not an id.
    const id = v === undefined ? null : normalizeDeviceId(v);
    if (id) user[key] = id;
  }
  const email = hashedKey(raw, 'email', hashEmail, errors);
  if (email) user.email_sha256 = email;
  const phone = hashedKey(raw, 'phone', hashPhone, errors);
  if (phone) user.phone_sha256 = phone;
  // Platforms disagree on the `+`; keep both hashes while the clear phone is at hand.
  const clearPhone =
    typeof raw.phone === 'string' && raw.phone_sha256 === undefined
      ? hashPhoneE164(raw.phone)
      : null;
  if (clearPhone) user.phone_e164_sha256 = clearPhone;
  parseCustomerInfo(raw, user, clearOut, errors, warnings, nowYear);
  return user;
}

const CLEAR_USER_SET: ReadonlySet<string> = new Set(CLEAR_USER_FIELDS);

function isClearUserField(field: string): field is ClearUserField {
  return CLEAR_USER_SET.has(field);
}

/** What each customer-information field must look like, for its error message. */
const CUSTOMER_INFO_RULES: Readonly<Record<string, string>> = {
  first_name: 'must contain letters',
  last_name: 'must contain letters',
  date_of_birth: 'must be a date of birth (YYYY-MM-DD, YYYYMMDD or M/D/YYYY) from 1900 on',
  city: 'must contain letters',
  state: 'must be a state name or code',
  zip: 'must be a postal code (2 to 10 letters and digits)',
  country: 'must be an ISO 3166-1 alpha-2 code or an English country name',
};

/**
 * Name, gender, birth date and address: each hashed here, as the platforms normalise it
 * (customer-info.ts), or taken as the caller's own hash (`first_name_sha256`…). A gender
 * other than f/m is legitimate data the platforms cannot use: dropped with a warning.
 */
function parseCustomerInfo(
  raw: Obj,
  user: UserKeys,
  clearOut: ClearUserInfo,
  errors: FieldError[],
  warnings: string[],
  nowYear: number,
): void {
  for (const field of CUSTOMER_INFO_FIELDS) {
    const key = `${field}_sha256` as const;
    const given = optString(raw, key, `user.${key}`, errors);
    if (given !== undefined) {
      const lower = given.toLowerCase();
      if (isSha256Hex(lower)) user[key] = lower;
      else errors.push({ field: `user.${key}`, message: 'must be a hex SHA-256 digest' });
      continue;
    }
    const clear = optString(raw, field, `user.${field}`, errors);
    if (clear === undefined) continue;
    const hashed = hashCustomerInfo(field, clear, nowYear);
    if (hashed) {
      user[key] = hashed;
      if (isClearUserField(field)) clearOut[field] = clear.trim();
    } else if (field === 'gender') warnings.push('gender other than f or m: not sent to platforms');
    else errors.push({ field: `user.${field}`, message: CUSTOMER_INFO_RULES[field] ?? 'invalid' });
  }
}

function parseValue(v: unknown, errors: FieldError[]): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  // Numeric strings are common from data layers ("49.90"); anything else is an error.
  const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    errors.push({ field: 'properties.value', message: 'must be a number' });
    return undefined;
  }
  if (n < 0) {
    errors.push({ field: 'properties.value', message: 'must not be negative' });
    return undefined;
  }
  return n;
}

function parseCurrency(v: unknown, errors: FieldError[]): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const code = typeof v === 'string' ? v.trim().toUpperCase() : '';
  if (!isCurrencyCode(code)) {
    errors.push({ field: 'properties.currency', message: 'must be an ISO 4217 currency code' });
    return undefined;
  }
  return code;
}

function parseContentIds(v: unknown, errors: FieldError[]): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (
    list.length > MAX_CONTENT_IDS ||
    list.some((x) => typeof x !== 'string' && typeof x !== 'number')
  ) {
    errors.push({
      field: 'properties.content_ids',
      message: `must be a list of at most ${MAX_CONTENT_IDS} strings`,
    });
    return undefined;
  }
  return list.map(String);
}

function parseCount(v: unknown): number | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null;
}

function parsePrice(v: unknown): number | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * `contents`: the order's products as Meta's `custom_data.contents` has them (`id`,
 * `quantity`, `item_price`); each bad field is named by its index.
 */
function parseContents(v: unknown, errors: FieldError[]): ContentItem[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > MAX_CONTENT_IDS) {
    errors.push({
      field: 'properties.contents',
      message: `must be a list of at most ${MAX_CONTENT_IDS} products`,
    });
    return undefined;
  }
  const items: ContentItem[] = [];
  v.forEach((raw: unknown, i) => {
    const path = `properties.contents[${i}]`;
    if (!isObj(raw)) {
      errors.push({ field: path, message: 'must be an object with an id' });
      return;
    }
    const id = optString(raw, 'id', `${path}.id`, errors);
    if (id === undefined) {
      if (raw.id === undefined || raw.id === null || raw.id === '')
        errors.push({ field: `${path}.id`, message: 'is required' });
      return;
    }
    const quantity = parseCount(raw.quantity);
    const price = parsePrice(raw.item_price);
    if (quantity === null)
      errors.push({ field: `${path}.quantity`, message: 'must be a positive integer' });
    if (price === null)
      errors.push({ field: `${path}.item_price`, message: 'must be a number, not negative' });
    items.push({
      id,
      ...(typeof quantity === 'number' ? { quantity } : {}),
      ...(typeof price === 'number' ? { item_price: price } : {}),
    });
  });
  return items;
}

/** True when `value` nests objects or arrays deeper than `max` (walked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function parseProperties(raw: unknown, errors: FieldError[], warnings: string[]): EventProperties {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    errors.push({ field: 'properties', message: 'must be an object' });
    return {};
  }
  for (const [k, v] of Object.entries(raw)) {
    if (nestsDeeperThan(v, MAX_PROPERTY_DEPTH)) {
      errors.push({
        field: `properties.${k}`,
        message: `must not nest objects or arrays more than ${MAX_PROPERTY_DEPTH} deep`,
      });
      return {};
    }
  }
  const props: EventProperties = { ...raw };
  delete props.value;
  delete props.currency;
  delete props.content_ids;
  delete props.contents;
  const value = parseValue(raw.value, errors);
  const currency = parseCurrency(raw.currency, errors);
  const contentIds = parseContentIds(raw.content_ids, errors);
  const contents = parseContents(raw.contents, errors);
  if (value !== undefined) props.value = value;
  if (currency !== undefined) props.currency = currency;
  if (contentIds !== undefined) props.content_ids = contentIds;
  if (contents !== undefined) props.contents = contents;
  if (value !== undefined && currency === undefined && raw.currency === undefined) {
    warnings.push('value without currency');
  }
  if (props.url !== undefined && typeof props.url !== 'string') {
    errors.push({ field: 'properties.url', message: 'must be a string' });
  }
  // Page URLs and referrers carry emails in their queries more often than one would think.
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'string' && /(^|_)(url|referrer|referer|href|location)$/i.test(k))
      props[k] = scrubUrl(v);
  }
  return props;
}

function parseConsentFlag(o: Obj, key: 'ads' | 'analytics', errors: FieldError[]): boolean | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') {
    errors.push({ field: `consent.${key}`, message: 'must be true or false' });
    return null;
  }
  return v;
}

function parseConsent(raw: unknown, errors: FieldError[]): Consent {
  if (raw === undefined || raw === null) return { ads: null, analytics: null };
  if (!isObj(raw)) {
    errors.push({ field: 'consent', message: 'must be an object' });
    return { ads: null, analytics: null };
  }
  return {
    ads: parseConsentFlag(raw, 'ads', errors),
    analytics: parseConsentFlag(raw, 'analytics', errors),
  };
}

function parseEventTime(raw: unknown, nowS: number, maxAgeS: number, errors: FieldError[]): number {
  if (raw === undefined || raw === null) return nowS;
  // ISO strings are accepted too: Segment and most backends send them.
  // Only a number or a string: Number(true) is 1 (1970) and Number([5]) is 5.
  const t =
    typeof raw === 'string'
      ? /^\d+$/.test(raw)
        ? Number(raw)
        : Date.parse(raw) / 1000
      : typeof raw === 'number'
        ? raw
        : Number.NaN;
  if (!Number.isFinite(t) || t <= 0) {
    errors.push({ field: 'event_time', message: 'must be Unix seconds or an ISO 8601 time' });
    return nowS;
  }
  // Milliseconds by mistake are the most common error; they would land in year 50000.
  const seconds = t > 1e11 ? Math.floor(t / 1000) : Math.floor(t);
  if (seconds > nowS + MAX_FUTURE_SKEW_S) {
    errors.push({ field: 'event_time', message: 'is in the future' });
  } else if (seconds < nowS - maxAgeS) {
    const days = Math.round((maxAgeS / 86_400) * 10) / 10;
    // The longest any destination of this event still takes (Meta 7 days, Google Ads 90…).
    errors.push({ field: 'event_time', message: `is more than ${days} days old` });
  }
  return seconds;
}

const ACTION_SOURCE_SET: ReadonlySet<string> = new Set(ACTION_SOURCES);

/** `action_source` at the top (the contract) or, as before, among the properties. */
function parseActionSource(raw: Obj, errors: FieldError[]): ActionSource | undefined {
  const props = isObj(raw.properties) ? raw.properties : {};
  const [v, field] =
    raw.action_source !== undefined
      ? [raw.action_source, 'action_source']
      : [props.action_source, 'properties.action_source'];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' && ACTION_SOURCE_SET.has(v)) return v as ActionSource;
  errors.push({ field, message: `must be one of ${ACTION_SOURCES.join(', ')}` });
  return undefined;
}

/**
 * Checks and normalizes one incoming event (DESIGN §5). Every problem is reported with its
 * field path; emails and phones come out hashed and never in clear.
 */
export function validateEvent(raw: unknown, ctx: ValidationContext): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  if (!isObj(raw))
    return { ok: false, errors: [{ field: '', message: 'event must be an object' }] };

  const name = raw.event_name;
  if (typeof name !== 'string' || name.trim() === '') {
    errors.push({ field: 'event_name', message: 'is required' });
  } else if (name.length > MAX_NAME_CHARS) {
    errors.push({ field: 'event_name', message: `must be at most ${MAX_NAME_CHARS} characters` });
  } else if (name.includes('\u0000')) {
    errors.push({ field: 'event_name', message: NUL_MESSAGE });
  }
  const envId = optString(raw, 'env_id', 'env_id', errors) ?? ctx.envId;
  if (!envId) errors.push({ field: 'env_id', message: 'is required' });
  else if (ctx.envId && envId !== ctx.envId) {
    errors.push({ field: 'env_id', message: 'does not match the write key' });
  }
  const eventId = optString(raw, 'event_id', 'event_id', errors);
  if (eventId === undefined)
    warnings.push('no event_id: browser and server copies cannot be deduplicated');
  const nowS = Math.floor(ctx.nowMs / 1000);
  const actionSource = parseActionSource(raw, errors);
  const maxAgeS =
    typeof name === 'string' && ctx.maxEventAgeS
      ? ctx.maxEventAgeS(name.trim(), actionSource)
      : MAX_EVENT_AGE_S;
  const eventTime = parseEventTime(raw.event_time, nowS, maxAgeS, errors);
  // What the collector saw on the request (browser IP, cookie) outranks what a page claims.
  // The clear name and address values, for the platforms that need them (never stored).
  const clearUser: ClearUserInfo = {};
  const user = {
    ...parseUser(
      raw.user,
      clearUser,
      errors,
      warnings,
      ctx.ipFromRequest === true || ctx.requestUser?.ip !== undefined,
      new Date(ctx.nowMs).getUTCFullYear(),
    ),
    ...ctx.requestUser,
  };
  const properties = parseProperties(raw.properties, errors, warnings);
  const consent = parseConsent(raw.consent, errors);
  const testCode = optString(raw, 'test_event_code', 'test_event_code', errors);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    event: {
      env_id: envId as string,
      event_name: wellFormed((name as string).trim()),
      event_id: eventId ?? ctx.newId(),
      event_time: eventTime,
      ...(actionSource ? { action_source: actionSource } : {}),
      source: ctx.source,
      user,
      ...(Object.keys(clearUser).length > 0 ? { clear_user: clearUser } : {}),
      properties,
      consent,
      warnings,
      ...(testCode ? { test_code: testCode } : {}),
    },
  };
}
