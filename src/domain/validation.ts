import { DEFAULT_CLICK_ID_PARAM } from './click-link.js';
import type { ClearUserInfo } from './customer-info.js';
import {
  ACTION_SOURCES,
  type ActionSource,
  type Consent,
  type EventProperties,
  type EventSource,
  type TrackedEvent,
  type UserKeys,
} from './event.js';
import { installReferrerClickId } from './install-referrer.js';
import type { LandingContext } from './traffic-source.js';
import { scrubUrl } from './url-scrub.js';
import { eventTrafficSource, parseCampaign } from './validation-campaign.js';
import {
  parseContentIds,
  parseContents,
  parseCurrency,
  parseValue,
} from './validation-commerce.js';
import type { FieldError } from './validation-error.js';
import { isObj, NUL_MESSAGE, type Obj, optString, wellFormed } from './validation-fields.js';
import { parseUser } from './validation-user.js';

/** Events older than this are refused: ad platforms refuse them too (Meta: 7 days). */
export const MAX_EVENT_AGE_S = 7 * 86_400;
/** Clock skew we tolerate for events stamped in the future. */
export const MAX_FUTURE_SKEW_S = 300;
const MAX_NAME_CHARS = 100;
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
  /** The environment's site and the list of known sites: the event's traffic source is read. */
  landing?: LandingContext;
}

export type ValidationResult =
  | { ok: true; event: TrackedEvent }
  | { ok: false; errors: FieldError[] };

/** True when `value` nests objects or arrays deeper than `max` (walked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  // Most properties are strings and numbers: no walk (and no stack) for them.
  if (typeof value !== 'object' || value === null) return false;
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

/** Properties read into fields of their own (value, currency, products). */
const PARSED_PROPERTIES: ReadonlySet<string> = new Set([
  'value',
  'currency',
  'content_ids',
  'contents',
]);
/** Properties that must be strings when given. */
const STRING_PROPERTIES = ['url', 'install_referrer'] as const;
/** Properties holding a URL, scrubbed of emails and ids (url-scrub.ts). */
const URL_PROPERTY = /(^|_)(url|referrer|referer|href|location)$/i;

function parseProperties(raw: unknown, errors: FieldError[], warnings: string[]): EventProperties {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    errors.push({ field: 'properties', message: 'must be an object' });
    return {};
  }
  // Copied key by key, leaving out the fields read below: a spread copy with those deleted
  // was a dictionary-mode object, slow to fill, read and write out for every event after.
  const props: EventProperties = {};
  for (const k of Object.keys(raw)) {
    const v = raw[k];
    if (nestsDeeperThan(v, MAX_PROPERTY_DEPTH)) {
      errors.push({
        field: `properties.${k}`,
        message: `must not nest objects or arrays more than ${MAX_PROPERTY_DEPTH} deep`,
      });
      return {};
    }
    // `__proto__` would set the copy's prototype (the JSON parsers drop it already).
    if (PARSED_PROPERTIES.has(k) || k === '__proto__') continue;
    // Page URLs and referrers carry emails in their queries more often than one would think.
    props[k] = typeof v === 'string' && URL_PROPERTY.test(k) ? scrubUrl(v) : v;
  }
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
  for (const key of STRING_PROPERTIES)
    if (props[key] !== undefined && typeof props[key] !== 'string')
      errors.push({ field: `properties.${key}`, message: 'must be a string' });
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
  const user = parseUser(
    raw.user,
    clearUser,
    errors,
    warnings,
    ctx.ipFromRequest === true || ctx.requestUser?.ip !== undefined,
    new Date(ctx.nowMs).getUTCFullYear(),
  );
  // Assigned into the fresh object parseUser made (a spread copied it whole for every event).
  if (ctx.requestUser) Object.assign(user, ctx.requestUser);
  const properties = parseProperties(raw.properties, errors, warnings);
  // Play's install referrer names the click the install came from (install-referrer.ts).
  const referred = installReferrerClickId(
    properties.install_referrer,
    ctx.landing?.clickIdParam ?? DEFAULT_CLICK_ID_PARAM,
  );
  if (referred) user.install_referrer_click_id = referred;
  const consent = parseConsent(raw.consent, errors);
  const testCode = optString(raw, 'test_event_code', 'test_event_code', errors);
  const appId = optString(raw, 'app_id', 'app_id', errors);
  const campaign = parseCampaign(raw.campaign, errors);
  const landing = raw.landing ?? undefined;
  if (landing !== undefined && typeof landing !== 'boolean')
    errors.push({ field: 'landing', message: 'must be true or false' });

  if (errors.length > 0) return { ok: false, errors };
  const trafficSource = eventTrafficSource(campaign, properties, ctx.landing);
  // Filled field by field, in the order the stored JSON has always had: a spread of a
  // literal for each optional field made and copied five objects per event.
  const event = {
    env_id: envId as string,
    event_name: wellFormed((name as string).trim()),
    event_id: eventId ?? ctx.newId(),
    event_time: eventTime,
  } as TrackedEvent;
  if (actionSource) event.action_source = actionSource;
  if (appId) event.app_id = appId.trim();
  event.source = ctx.source;
  event.user = user;
  if (Object.keys(clearUser).length > 0) event.clear_user = clearUser;
  event.properties = properties;
  event.consent = consent;
  event.warnings = warnings;
  if (testCode) event.test_code = testCode;
  if (trafficSource) event.traffic_source = trafficSource;
  if (typeof landing === 'boolean') event.landing = landing;
  return { ok: true, event };
}
