/**
 * Snowplow tracker-protocol payloads (one `payload_data` item, or a GET pixel's query) mapped
 * to pixeltrail's event shape (DESIGN §5), before validation.
 * Spec: https://docs.snowplow.io/docs/sources/trackers/snowplow-tracker-protocol/ — every
 * value is a string; `ue_px` and `cx` are base64url without padding, `ue_pr` and `co` plain
 * JSON. Ecommerce: the `snowplow_ecommerce_action` event with its transaction and product
 * entities (ecommerce plugin), and the older `tr` / `ti` events.
 */
import { ALL_CATEGORIES, type ConsentChoices } from './consent-categories.js';
import { normalizeOs } from './mobile-platform.js';
import type { FieldError } from './validation-error.js';

/** The envelope of a POST body. */
export const PAYLOAD_DATA_SCHEMA_PREFIX =
  'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-';

/** The `snowplow_ecommerce_action` types → our names; others keep the action type. */
const ECOMMERCE_ACTIONS: Readonly<Record<string, string>> = {
  transaction: 'Purchase',
  add_to_cart: 'AddToCart',
  product_view: 'ViewContent',
  checkout_step: 'InitiateCheckout',
  remove_from_cart: 'RemoveFromCart',
};

/** Self-describing events by schema name (vendor/name, without version) → our names. */
const SELF_DESCRIBING_NAMES: Readonly<Record<string, string>> = {
  'com.snowplowanalytics.snowplow/add_to_cart': 'AddToCart',
  'com.snowplowanalytics.snowplow/screen_view': 'ScreenView',
  'com.snowplowanalytics.mobile/application_install': 'app_install',
  'com.snowplowanalytics.snowplow/application_foreground': 'app_open',
};

/** A payload mapped to the pre-validation shape; `app_id` names the environment. */
export type SnowplowMapResult =
  | {
      ok: true;
      app_id: string;
      server: boolean;
      event: Record<string, unknown>;
      consentChoices?: ConsentChoices;
      /**
       * Where each mapped field came from in the payload, to name it in an error: made only
       * for an event refused.
       */
      sources: () => Record<string, string>;
    }
  | { ok: false; errors: FieldError[] }
  | { ok: 'skip'; reason: string };

type Obj = Record<string, unknown>;

interface SelfDescribing {
  schema: string;
  data: Obj;
}

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** `iglu:vendor/name/jsonschema/1-0-0` → `vendor/name`. */
export function schemaName(schema: string): string {
  return schema
    .replace(/^iglu:/, '')
    .split('/')
    .slice(0, 2)
    .join('/');
}

/** Plain JSON (`ue_pr`, `co`) or base64url JSON (`ue_px`, `cx`); padding optional. */
function decodeJson(
  p: Obj,
  plainKey: string,
  encodedKey: string,
  errors: FieldError[],
): Obj | undefined {
  const plain = str(p[plainKey]);
  const encoded = str(p[encodedKey]);
  if (!plain && !encoded) return undefined;
  try {
    // Node's base64 decoder takes both alphabets, with or without `=` padding.
    const text = plain ?? Buffer.from(encoded as string, 'base64').toString('utf8');
    return obj(JSON.parse(text));
  } catch {
    const key = plain ? plainKey : encodedKey;
    errors.push({ field: key, message: plain ? 'is not JSON' : 'is not base64url-encoded JSON' });
    return undefined;
  }
}

function selfDescribing(v: unknown): SelfDescribing | undefined {
  const o = obj(v);
  return typeof o.schema === 'string' ? { schema: o.schema, data: obj(o.data) } : undefined;
}

function entitiesOf(p: Obj, errors: FieldError[]): SelfDescribing[] {
  const co = decodeJson(p, 'co', 'cx', errors);
  if (!co || !Array.isArray(co.data)) return [];
  return co.data.map(selfDescribing).filter((x): x is SelfDescribing => x !== undefined);
}

function entity(entities: SelfDescribing[], name: string): Obj | undefined {
  return entities.find((e) => schemaName(e.schema) === name)?.data;
}

/** Names, value and products of an ecommerce action from its entities. */
function ecommerce(action: Obj, entities: SelfDescribing[]): { name: string; props: Obj } {
  const type = str(action.type) ?? 'ecommerce_action';
  const tx = entity(entities, 'com.snowplowanalytics.snowplow.ecommerce/transaction') ?? {};
  const cart = entity(entities, 'com.snowplowanalytics.snowplow.ecommerce/cart') ?? {};
  const products = entities
    .filter((e) => schemaName(e.schema) === 'com.snowplowanalytics.snowplow.ecommerce/product')
    .map((e) => e.data);
  const props: Obj = {};
  const value =
    tx.revenue ?? cart.total_value ?? (products.length === 1 ? products[0].price : undefined);
  if (value !== undefined) props.value = value;
  const currency = tx.currency ?? cart.currency ?? products[0]?.currency;
  if (currency !== undefined) props.currency = currency;
  const ids = products.map((x) => str(x.id)).filter((x) => x !== undefined);
  if (ids.length > 0) {
    props.content_ids = ids;
    props.num_items = products.reduce((n, x) => n + (Number(x.quantity) || 1), 0);
  }
  if (str(tx.transaction_id)) props.order_id = tx.transaction_id;
  return { name: ECOMMERCE_ACTIONS[type] ?? type, props };
}

/**
 * Mobile identifiers from the `mobile_context` entity (IDFA, IDFV, Android advertising id) and
 * its `osType` (`ios`, `tvos`, `android`…: whether Apple's rules apply, mobile-platform.ts).
 */
function mobileIds(entities: SelfDescribing[]): Obj {
  const m = entity(entities, 'com.snowplowanalytics.snowplow/mobile_context') ?? {};
  const ids: Obj = {
    idfa: str(m.appleIdfa),
    idfv: str(m.appleIdfv),
    gaid: str(m.androidIdfa),
    // An osType we cannot read is left out rather than refusing the event.
    os: normalizeOs(str(m.osType) ?? '') ?? undefined,
  };
  const session = entity(entities, 'com.snowplowanalytics.snowplow/client_session') ?? {};
  if (str(session.userId)) ids.app_instance_id = session.userId;
  for (const k of Object.keys(ids)) if (ids[k] === undefined) delete ids[k];
  return ids;
}

/**
 * The consent choices of Snowplow's consent events: Enhanced Consent's `consent_preferences`
 * (`allow_all`, `deny_all`, `withdrawn`, `expired`, or the accepted `consentScopes`, every
 * other scope refused) and the basic `consent_withdrawn`. The `gdpr` entity is not one: it
 * names the site's legal basis for processing, not what this person chose.
 */
function consentChoices(schema: string, data: Obj): ConsentChoices | undefined {
  if (schema === 'com.snowplowanalytics.snowplow/consent_withdrawn')
    return { [ALL_CATEGORIES]: false };
  if (schema !== 'com.snowplowanalytics.snowplow/consent_preferences') return undefined;
  switch (data.eventType) {
    case 'allow_all':
      return { [ALL_CATEGORIES]: true };
    case 'deny_all':
    case 'withdrawn':
    case 'expired':
      return { [ALL_CATEGORIES]: false };
    case 'allow_selected':
    case 'implicit_consent': {
      const scopes = Array.isArray(data.consentScopes) ? data.consentScopes : [];
      const choices: ConsentChoices = { [ALL_CATEGORIES]: false };
      for (const scope of scopes) if (typeof scope === 'string') choices[scope] = true;
      return choices;
    }
    default:
      return undefined;
  }
}

function nameAndProps(
  e: string,
  p: Obj,
  entities: SelfDescribing[],
  errors: FieldError[],
): { name: string; props: Obj; consentChoices?: ConsentChoices; fromEntities?: true } | undefined {
  switch (e) {
    case 'pv':
      return { name: 'PageView', props: { title: str(p.page) } };
    case 'se':
      // A structured event is named by its action (`se_ac`), valued by `se_va`.
      return {
        name: str(p.se_ac) ?? 'StructuredEvent',
        props: {
          category: str(p.se_ca),
          label: str(p.se_la),
          property: str(p.se_pr),
          value: str(p.se_va),
        },
      };
    case 'tr':
      return {
        name: 'Purchase',
        props: {
          order_id: str(p.tr_id),
          value: str(p.tr_tt),
          currency: str(p.tr_cu),
          tax: str(p.tr_tx),
          shipping: str(p.tr_sh),
          affiliation: str(p.tr_af),
        },
      };
    case 'ti':
      return {
        name: 'PurchaseItem',
        props: {
          order_id: str(p.ti_id),
          content_ids: str(p.ti_sk) ? [str(p.ti_sk)] : undefined,
          item_name: str(p.ti_nm),
          value: str(p.ti_pr),
          quantity: str(p.ti_qt),
          currency: str(p.ti_cu),
        },
      };
    case 'ue': {
      const ue = selfDescribing(decodeJson(p, 'ue_pr', 'ue_px', errors)?.data);
      if (!ue) {
        if (errors.length === 0)
          errors.push({ field: 'ue_px', message: 'is required for ue events' });
        return undefined;
      }
      const name = schemaName(ue.schema);
      if (name === 'com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action')
        return { ...ecommerce(ue.data, entities), fromEntities: true };
      const props: Obj = { ...ue.data, schema: ue.schema };
      if (name === 'com.snowplowanalytics.snowplow/add_to_cart') {
        props.content_ids = str(ue.data.sku) ? [str(ue.data.sku)] : undefined;
        props.value = ue.data.unitPrice;
      }
      return {
        name: SELF_DESCRIBING_NAMES[name] ?? (name.split('/')[1] || name),
        props,
        consentChoices: consentChoices(name, ue.data),
      };
    }
    default:
      errors.push({ field: 'e', message: 'must be one of pv, pp, se, ue, tr, ti' });
      return undefined;
  }
}

/**
 * The campaign fields of an enriched event (Snowplow's campaign attribution enrichment:
 * `mkt_source`, `mkt_medium`, `mkt_campaign`, `mkt_term`, `mkt_content`; a click id with its
 * `mkt_network` is a paid click of that network), relayed by a pipeline that already ran it.
 * https://docs.snowplow.io/docs/pipeline/enrichments/available-enrichments/campaign-attribution-enrichment/
 */
function marketingOf(p: Obj): Obj | undefined {
  const out: Obj = {};
  const pairs = [
    ['source', 'mkt_source'],
    ['medium', 'mkt_medium'],
    ['name', 'mkt_campaign'],
    ['term', 'mkt_term'],
    ['content', 'mkt_content'],
  ] as const;
  for (const [k, f] of pairs) if (str(p[f])) out[k] = p[f];
  if (str(p.mkt_clickid) && str(p.mkt_network) && !out.source && !out.medium) {
    out.source = String(p.mkt_network).toLowerCase();
    out.medium = 'cpc';
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Maps one tracker-protocol payload (values are strings; GET pixels and POST items alike). */
export function mapSnowplowPayload(raw: unknown): SnowplowMapResult {
  const p = obj(raw);
  const errors: FieldError[] = [];
  const e = str(p.e);
  if (!e) return { ok: false, errors: [{ field: 'e', message: 'is required' }] };
  // Page pings say only that a page is still open; they are not events an ad is paid for.
  if (e === 'pp') return { ok: 'skip', reason: 'page_ping' };
  const appId = str(p.aid);
  if (!appId)
    errors.push({ field: 'aid', message: 'is required: the app id names the environment' });
  const entities = entitiesOf(p, errors);
  const mapped = nameAndProps(e, p, entities, errors);
  if (!mapped || errors.length > 0) return { ok: false, errors };

  const props: Obj = { ...mapped.props };
  if (str(p.url)) props.url = p.url;
  if (str(p.refr)) props.referrer = p.refr;
  else if (str(p.refr_urlhost))
    props.referrer = `${str(p.refr_urlscheme) ?? 'https'}://${p.refr_urlhost}${str(p.refr_urlpath) ?? '/'}`;
  const campaign = marketingOf(p);
  for (const k of Object.keys(props)) if (props[k] === undefined) delete props[k];
  const user: Obj = {
    anonymous_id: str(p.duid),
    user_id: str(p.uid),
    ip: str(p.ip),
    user_agent: str(p.ua),
    ...mobileIds(entities),
  };
  // The network user id is the collector's own cookie; ours is `ptid`, so nuid is a second
  // anonymous id only when the domain one is missing.
  if (!user.anonymous_id && str(p.nuid)) user.anonymous_id = p.nuid;
  for (const k of Object.keys(user)) if (user[k] === undefined) delete user[k];
  return {
    ok: true,
    app_id: appId as string,
    // Server trackers relay for the user: their request IP and agent are the backend's. Web
    // and mobile trackers send from the user's own device.
    server: p.p === 'srv',
    event: {
      event_name: mapped.name,
      event_id: str(p.eid),
      event_time: str(p.ttm) ?? str(p.dtm),
      user,
      properties: props,
      ...(campaign ? { campaign } : {}),
    },
    consentChoices: mapped.consentChoices,
    sources: () =>
      sourcesOf(e, p, !!user.anonymous_id && !str(p.duid), mapped.fromEntities === true),
  };
}

/** Tracker-protocol fields of an event's value and currency, by event type. */
const VALUE_FIELDS: Record<string, [string, string]> = {
  se: ['se_va', 'se_va'],
  tr: ['tr_tt', 'tr_cu'],
  ti: ['ti_pr', 'ti_cu'],
};

/**
 * The payload's own name of each field mapSnowplowPayload fills: a tracker's author is told
 * `ip is not a valid IP address`, not about our `user.ip`. A self-describing event's
 * properties come from `ue_px` (or `ue_pr`), its entities' from `cx` (or `co`).
 */
function sourcesOf(
  e: string,
  p: Obj,
  fromNuid: boolean,
  fromEntities: boolean,
): Record<string, string> {
  // decodeJson reads the plain form first.
  const ue = str(p.ue_pr) ? 'ue_pr' : 'ue_px';
  const cx = str(p.co) ? 'co' : 'cx';
  // An ecommerce action's value, currency and products are in its entities.
  const props = fromEntities ? cx : e === 'ue' ? ue : 'e';
  const [value, currency] = VALUE_FIELDS[e] ?? [props, props];
  return {
    event_name: e === 'se' ? 'se_ac' : e === 'ue' ? ue : 'e',
    event_id: 'eid',
    event_time: str(p.ttm) ? 'ttm' : 'dtm',
    'user.anonymous_id': fromNuid ? 'nuid' : 'duid',
    'user.user_id': 'uid',
    'user.ip': 'ip',
    'user.user_agent': 'ua',
    'user.idfa': cx,
    'user.idfv': cx,
    'user.gaid': cx,
    'user.app_instance_id': cx,
    'user.os': cx,
    'properties.value': value,
    'properties.currency': currency,
    'properties.content_ids': e === 'ti' ? 'ti_sk' : props,
    'properties.url': 'url',
    'properties.referrer': str(p.refr) ? 'refr' : 'refr_urlhost',
    'campaign.source': 'mkt_source',
    'campaign.medium': 'mkt_medium',
    'campaign.name': 'mkt_campaign',
    'campaign.term': 'mkt_term',
    'campaign.content': 'mkt_content',
  };
}

/** The items of a POST body: `{schema: payload_data, data: [...]}`, or null when unusable. */
export function payloadItems(body: unknown): unknown[] | null {
  const o = obj(body);
  if (typeof o.schema !== 'string' || !o.schema.startsWith(PAYLOAD_DATA_SCHEMA_PREFIX)) return null;
  return Array.isArray(o.data) ? o.data : null;
}
