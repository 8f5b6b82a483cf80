/**
 * Segment's HTTP Tracking API messages (track, identify, page, screen, alias, group) mapped
 * to pixeltrail's event shape (DESIGN §5), before validation.
 * Spec: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/ and
 * the common fields https://segment.com/docs/connections/spec/common/; ecommerce names from
 * https://segment.com/docs/connections/spec/ecommerce/v2/.
 */
import type { ConsentChoices } from './consent-categories.js';
import { normalizeAttStatus, normalizeOs } from './mobile-platform.js';
import type { FieldError } from './validation-error.js';

/** Segment limits a message to 32 KB and a batch to 500 KB (HTTP API, "Max request size"). */
export const MAX_SEGMENT_EVENT_BYTES = 32 * 1024;
export const MAX_SEGMENT_BATCH_BYTES = 500 * 1024;

/** The message types the Tracking API accepts. */
export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'alias', 'group'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** Segment's semantic event names → ours; other track names are kept as sent. */
export const SEGMENT_EVENT_NAMES: Readonly<Record<string, string>> = {
  'Order Completed': 'Purchase',
  'Product Added': 'AddToCart',
  'Product Viewed': 'ViewContent',
  'Product List Viewed': 'ViewContent',
  'Checkout Started': 'InitiateCheckout',
  'Payment Info Entered': 'AddPaymentInfo',
  'Product Added to Wishlist': 'AddToWishlist',
  'Products Searched': 'Search',
  'Lead Generated': 'Lead',
  'Signed Up': 'CompleteRegistration',
  'Trial Started': 'StartTrial',
  'Subscription Started': 'Subscribe',
  // Mobile lifecycle events (https://segment.com/docs/connections/spec/mobile/).
  'Application Installed': 'app_install',
  'Application Opened': 'app_open',
};

/** Names of the events the other message types become. */
const TYPE_EVENT_NAMES: Readonly<Record<Exclude<SegmentType, 'track'>, string>> = {
  page: 'PageView',
  screen: 'ScreenView',
  identify: 'Identify',
  alias: 'Alias',
  group: 'Group',
};

/** A message mapped to the pre-validation event shape, or every problem found. */
export type SegmentMapResult =
  | {
      ok: true;
      event: Record<string, unknown>;
      consentChoices?: ConsentChoices;
      /**
       * Where each mapped field came from in the message, to name it in an error: made only
       * for an event refused (about 2 µs a message, issue 22).
       */
      sources: () => Record<string, string>;
    }
  | { ok: false; errors: FieldError[] };

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Ecommerce spec: `value` wins, then `revenue` (order net of shipping and tax), then `total`. */
function mapProperties(raw: Obj, page: Obj): Obj {
  // Copied key by key without `products` (read below): a spread copy with it deleted was a
  // dictionary-mode object, slow to read and validate (issue 22). `__proto__` would set the
  // copy's prototype; validation drops it anyway.
  const props: Obj = {};
  for (const k of Object.keys(raw)) if (k !== 'products' && k !== '__proto__') props[k] = raw[k];
  const value = raw.value ?? raw.revenue ?? raw.total ?? raw.price;
  if (value !== undefined) props.value = value;
  if (typeof raw.currency === 'string') props.currency = raw.currency;
  const products = Array.isArray(raw.products) ? raw.products.map(obj) : [];
  const ids = products.map((p) => str(p.product_id) ?? str(p.sku)).filter((x) => x !== undefined);
  if (ids.length > 0) {
    props.content_ids = ids;
    props.num_items = products.reduce((n, p) => n + (Number(p.quantity) || 1), 0);
  } else if (str(raw.product_id) ?? str(raw.sku)) {
    props.content_ids = [str(raw.product_id) ?? str(raw.sku)];
  }
  const url = str(raw.url) ?? str(page.url);
  if (url) props.url = url;
  const referrer = str(raw.referrer) ?? str(page.referrer);
  if (referrer) props.referrer = referrer;
  return props;
}

/**
 * Segment's consent object: `context.consent.categoryPreferences`, category id → consented
 * (Segment Consent Management); the environment's `consent_categories` say which ids mean ads.
 * Segment has no field for TCF or GPP strings.
 */
function consentChoices(context: Obj): ConsentChoices | undefined {
  const prefs = obj(obj(context.consent).categoryPreferences);
  const choices = Object.fromEntries(
    Object.entries(prefs).filter((e): e is [string, boolean] => typeof e[1] === 'boolean'),
  );
  return Object.keys(choices).length > 0 ? choices : undefined;
}

/**
 * `context.campaign` (Segment's common fields: name, source, medium, term, content; analytics.js
 * fills it from the page's utm_* parameters), in the event contract's `campaign` names.
 */
function campaignOf(context: Obj): Obj | undefined {
  const c = obj(context.campaign);
  const out: Obj = {};
  for (const k of ['source', 'medium', 'name', 'term', 'content', 'id'])
    if (c[k] !== undefined) out[k] = c[k];
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Mobile spec: `context.device.advertisingId` is the IDFA on iOS and the GAID on Android
 * (only when `adTrackingEnabled` is not false); `context.device.id` is the IDFV on iOS and
 * an app instance id elsewhere.
 */
function deviceIds(context: Obj): Obj {
  const device = obj(context.device);
  const os = `${str(device.type) ?? ''} ${str(obj(context.os).name) ?? ''}`.toLowerCase();
  const ios = /ios|ipados|iphone/.test(os);
  const android = os.includes('android');
  const ids: Obj = {};
  const ad = device.adTrackingEnabled === false ? undefined : str(device.advertisingId);
  if (ad && ios) ids.idfa = ad;
  if (ad && android) ids.gaid = ad;
  const id = str(device.id);
  if (id && ios) ids.idfv = id;
  else if (id && android) ids.app_instance_id = id;
  // The OS says whether Apple's rules apply (mobile-platform.ts); the ATT status whether the
  // advertisingId is an IDFA the user allowed. Segment's IDFA plugin writes `trackingStatus`
  // and, when tracking is not authorized, the IDFV as `advertisingId` with adTrackingEnabled
  // false (segmentio/analytics-swift, Examples/other_plugins/IDFACollection.swift).
  // Names we cannot read (a desktop's `Windows 10 (Build 19045)`, the plugin's `unknown`
  // status) are left out rather than refusing the message: Segment sent them in good faith.
  const osName = str(obj(context.os).name);
  if (osName && normalizeOs(osName)) ids.os = osName;
  const att = str(device.trackingStatus);
  if (att && normalizeAttStatus(att)) ids.att_status = att;
  return ids;
}

/**
 * The Google Play install referrer of an `Application Installed`: Segment's spec has no field
 * for it, so an app sends it as `properties.install_referrer` (kept as it is) or as the
 * referrer of the common fields, `context.referrer` (a string, or the object's `link` / `url`).
 */
function playReferrer(name: string, context: Obj): string | undefined {
  if (name !== 'app_install') return undefined;
  const ref = context.referrer;
  if (typeof ref === 'string') return str(ref);
  return str(obj(ref).link) ?? str(obj(ref).url);
}

function eventName(type: SegmentType, msg: Obj): string | undefined {
  if (type !== 'track') return TYPE_EVENT_NAMES[type];
  const name = str(msg.event);
  return name === undefined ? undefined : (SEGMENT_EVENT_NAMES[name] ?? name);
}

/**
 * Maps one Segment message. `type` comes from the path (`/v1/track`) or, in a batch, from
 * the message's own `type`. Every message needs `userId` or `anonymousId`, and a track its
 * `event` (Segment's own acceptance rules).
 */
export function mapSegmentMessage(raw: unknown, pathType?: SegmentType): SegmentMapResult {
  const msg = obj(raw);
  const errors: FieldError[] = [];
  if (raw !== msg) return { ok: false, errors: [{ field: '', message: 'must be an object' }] };
  const type = pathType ?? (msg.type as SegmentType);
  if (!SEGMENT_TYPES.includes(type)) {
    errors.push({ field: 'type', message: `must be one of ${SEGMENT_TYPES.join(', ')}` });
    return { ok: false, errors };
  }
  const anonymousId = str(msg.anonymousId);
  const userId = str(msg.userId);
  if (!anonymousId && !userId)
    errors.push({ field: 'userId', message: 'userId or anonymousId is required' });
  const name = eventName(type, msg);
  if (!name) errors.push({ field: 'event', message: 'is required for a track call' });
  if (errors.length > 0) return { ok: false, errors };

  const context = obj(msg.context);
  const page = obj(context.page);
  const properties = mapProperties(obj(msg.properties), page);
  if ((type === 'page' || type === 'screen') && str(msg.name)) properties.name = msg.name;
  const trait = (k: string) => traitOf(msg, context, k) ?? str(obj(msg.properties)[k]);
  const given: Obj = {
    anonymous_id: type === 'alias' ? (str(msg.previousId) ?? anonymousId) : anonymousId,
    user_id: userId,
    email: trait('email'),
    phone: trait('phone'),
    ip: str(context.ip),
    user_agent: str(context.userAgent),
    ...deviceIds(context),
  };
  // Only the fields given, added one by one: deleting the others made a dictionary-mode object.
  const user: Obj = {};
  for (const k of Object.keys(given)) if (given[k] !== undefined) user[k] = given[k];
  const event: Obj = {
    event_name: name,
    event_id: str(msg.messageId),
    event_time: str(msg.timestamp) ?? str(msg.originalTimestamp),
    user,
    properties,
  };
  const campaign = campaignOf(context);
  if (campaign) event.campaign = campaign;
  // The app's bundle id (`context.app.namespace`), which the config's `apps` may list.
  const app = str(obj(context.app).namespace);
  if (app) event.app_id = app;
  const referrer = playReferrer(name as string, context);
  if (referrer && properties.install_referrer === undefined) properties.install_referrer = referrer;
  return {
    ok: true,
    event,
    consentChoices: consentChoices(context),
    sources: () => sourcesOf(type, msg, context),
  };
}

/**
 * A trait as Segment merges them: the message's `traits` over `context.traits` (a key of the
 * message's own wins even when the context's is the usable one).
 */
function traitOf(msg: Obj, context: Obj, k: string): string | undefined {
  const own = obj(msg.traits);
  return str(Object.hasOwn(own, k) ? own[k] : obj(context.traits)[k]);
}

/**
 * The message's own name of each field mapSegmentMessage fills, read the way the mapping
 * reads them: a Segment caller is told `context.ip is not a valid IP address`, not about our
 * `user.ip`. Fields not listed here (`properties.*`) are named alike on both sides.
 */
function sourcesOf(type: SegmentType, msg: Obj, context: Obj): Record<string, string> {
  const props = obj(msg.properties);
  const page = obj(context.page);
  // The mapping merges context.traits under the message's traits, then falls back to properties.
  const traitsAt = (k: string) => {
    if (traitOf(msg, context, k) === undefined) return `properties.${k}`;
    return Object.hasOwn(obj(msg.traits), k) ? `traits.${k}` : `context.traits.${k}`;
  };
  const value = ['value', 'revenue', 'total', 'price'].find((k) => props[k] != null);
  const products = Array.isArray(props.products) ? props.products.map(obj) : [];
  const contentIds = products.some((x) => str(x.product_id) ?? str(x.sku))
    ? 'properties.products'
    : str(props.product_id)
      ? 'properties.product_id'
      : str(props.sku)
        ? 'properties.sku'
        : 'properties.content_ids';
  return {
    event_name: type === 'track' ? 'event' : 'type',
    event_id: 'messageId',
    event_time: str(msg.timestamp) ? 'timestamp' : 'originalTimestamp',
    'user.anonymous_id': type === 'alias' && str(msg.previousId) ? 'previousId' : 'anonymousId',
    'user.user_id': 'userId',
    'user.email': traitsAt('email'),
    'user.email_sha256': traitsAt('email'),
    'user.phone': traitsAt('phone'),
    'user.phone_sha256': traitsAt('phone'),
    'user.ip': 'context.ip',
    'user.user_agent': 'context.userAgent',
    'user.idfa': 'context.device.advertisingId',
    'user.gaid': 'context.device.advertisingId',
    'user.idfv': 'context.device.id',
    'user.app_instance_id': 'context.device.id',
    'user.os': 'context.os.name',
    'user.att_status': 'context.device.trackingStatus',
    app_id: 'context.app.namespace',
    ...(props.install_referrer === undefined && context.referrer !== undefined
      ? { 'properties.install_referrer': 'context.referrer' }
      : {}),
    ...(value ? { 'properties.value': `properties.${value}` } : {}),
    'properties.content_ids': contentIds,
    ...(!str(props.url) && str(page.url) ? { 'properties.url': 'context.page.url' } : {}),
    'campaign.source': 'context.campaign.source',
    'campaign.medium': 'context.campaign.medium',
    'campaign.name': 'context.campaign.name',
    'campaign.term': 'context.campaign.term',
    'campaign.content': 'context.campaign.content',
    'campaign.id': 'context.campaign.id',
    campaign: 'context.campaign',
    ...(!str(props.referrer) && str(page.referrer)
      ? { 'properties.referrer': 'context.page.referrer' }
      : {}),
  };
}
