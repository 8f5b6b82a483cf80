// Pinterest Conversions API (API v5), followed from:
// https://developers.pinterest.com/docs/api/v5/events-create (POST /v5/ad_accounts/{ad_account_id}/events,
// Bearer conversion token, `?test=true`, `data[]` of 1 to 1,000 events with event_name,
// action_source, event_time, event_id, event_source_url, user_data, custom_data; the response's
// per-event `events[]` status; errors 400/401/403/422/429/503 as `{code, message}`),
// https://developers.pinterest.com/docs/conversions/event/ (event names in the API; user_data
// fn, ln, ge, db, ct, st, zp, country hashed as Meta's; custom_data.contents of id,
// item_price as a string, quantity) and
// https://developers.pinterest.com/docs/track-conversions/define-your-own-event-types/ (names
// of your own pass through and are mapped in Ads Manager).
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import type { TrackedEvent } from '../../domain/event.js';
import type {
  DeliveryContext,
  DeliveryItem,
  DestinationAdapter,
  HttpResult,
  Interpretation,
} from './adapter.js';
import {
  type CapiUserData,
  capiUserData,
  contentIds,
  givenOrderId,
  itemCount,
  valueAndCurrency,
} from './capi-user-data.js';
import { apiBase, eventSourceUrl, happenedOffline, platformEventName } from './platform-fields.js';

/** `data`: "minItems: 1, maxItems: 1000". */
export const PINTEREST_MAX_EVENTS = 1000;
const DEFAULT_BASE_URL = 'https://api.pinterest.com';
/** `action_source` values the API accepts. */
const ACTION_SOURCES = new Set(['web', 'offline', 'app_android', 'app_ios']);
/** How many failed rows the delivery log names. */
const DETAIL_ROWS = 3;

const PinterestSettings = Type.Object(
  {
    ad_account_id: Type.String({
      pattern: '^[0-9]{1,18}$',
      description: 'Ad account id (Ads Manager → Business Access → Ad accounts)',
    }),
    access_token: Type.String({
      secret: true,
      description: 'Conversion access token (Ads Manager → Conversions → Conversions API)',
    }),
  },
  { additionalProperties: false },
);
type PinterestSettings = Static<typeof PinterestSettings>;

/**
 * Our standard names as Pinterest's. Standard names Pinterest has no event for go as
 * 'custom'; other names pass unchanged, as advertiser-defined events mapped in Ads Manager.
 */
export const PINTEREST_EVENT_NAMES: Readonly<Record<string, string>> = {
  PageView: 'page_visit',
  ViewContent: 'page_visit',
  ViewCategory: 'view_category',
  Search: 'search',
  AddToCart: 'add_to_cart',
  AddToWishlist: 'add_to_wishlist',
  AddPaymentInfo: 'add_payment_info',
  InitiateCheckout: 'custom',
  Purchase: 'checkout',
  Lead: 'lead',
  CompleteRegistration: 'signup',
  Contact: 'contact',
  Subscribe: 'custom',
  StartTrial: 'custom',
  WatchVideo: 'watch_video',
};

/** Pinterest's `user_data`: the CAPI keys plus the `_epik` click id. */
export type PinterestUserData = CapiUserData & { click_id?: string };

/**
 * The person as `user_data`: `em`, `ph` (digits with country code, no `+`: ingest's form),
 * `external_id` hashed in lists; IP, user agent and the `_epik` click id in clear.
 */
export function pinterestUserData(item: DeliveryItem): PinterestUserData {
  const epik = item.event.user.epik;
  return { ...capiUserData(item.event), ...(epik ? { click_id: epik } : {}) };
}

/** `custom_data`, each field only when known; `value` is a string, as the API takes it. */
export function pinterestCustomData(item: DeliveryItem, name: string): Record<string, unknown> {
  const p = item.event.properties;
  const { value, currency } = valueAndCurrency(item);
  const data: Record<string, unknown> = {};
  if (value !== undefined) data.value = String(value);
  if (currency) data.currency = currency;
  const ids = contentIds(item.event);
  if (ids) data.content_ids = ids;
  // `contents[]`: item_price is a string, like `value`.
  if (p.contents?.length)
    data.contents = p.contents.map((c) => ({
      id: c.id,
      ...(c.item_price !== undefined ? { item_price: String(c.item_price) } : {}),
      ...(c.quantity !== undefined ? { quantity: c.quantity } : {}),
    }));
  const count = itemCount(item.event);
  if (count !== undefined) data.num_items = count;
  else if (ids && name === 'checkout') data.num_items = ids.length;
  const order = givenOrderId(item.event);
  if (order) data.order_id = order;
  const search = p.search_string ?? p.search_term;
  if (typeof search === 'string') data.search_string = search;
  return data;
}

/**
 * `action_source`: a Pinterest value named in the properties as before, else `offline` for a
 * store sale, phone or system-generated conversion (the contract's action_source), else `web`.
 */
function pinterestActionSource(e: TrackedEvent): string {
  const own = e.properties.action_source;
  if (typeof own === 'string' && ACTION_SOURCES.has(own)) return own;
  return happenedOffline(e) ? 'offline' : 'web';
}

/** One conversion as an element of `data`. */
export function pinterestEvent(
  item: DeliveryItem,
  ctx: DeliveryContext<PinterestSettings>,
): Record<string, unknown> {
  const { conversion: c, event: e } = item;
  const name = platformEventName(ctx.dest, c.event_name, PINTEREST_EVENT_NAMES);
  const url = eventSourceUrl(e);
  const custom = pinterestCustomData(item, name);
  return {
    event_name: name,
    action_source: pinterestActionSource(e),
    event_time: c.event_time,
    // The same id the Pinterest tag sends as event_id, so Pinterest keeps one of the two.
    event_id: c.event_id,
    ...(url ? { event_source_url: url } : {}),
    user_data: pinterestUserData(item),
    ...(Object.keys(custom).length > 0 ? { custom_data: custom } : {}),
  };
}

/** One event's outcome in the response's `events[]`. */
export interface PinterestRow {
  status: 'processed' | 'failed';
  error_message: string | null;
}

/** What can be read of an answer: counts, per-event rows, the error `{code, message}`. */
export interface PinterestAnswer {
  code: number | null;
  message: string | null;
  received: number | null;
  processed: number | null;
  /** In request order; shorter than the batch when the excerpt was cut short. */
  rows: PinterestRow[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' ? v : null);

function rowOf(v: unknown): PinterestRow | null {
  if (!isObj(v) || (v.status !== 'processed' && v.status !== 'failed')) return null;
  return {
    status: v.status,
    error_message: typeof v.error_message === 'string' ? v.error_message : null,
  };
}

function jsonString(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

const STRING = '"((?:[^"\\\\]|\\\\.)*)"';

/** Reads the complete rows of a body cut short (the worker keeps only an excerpt). */
function fromText(body: string): PinterestAnswer {
  const field = (name: string) => new RegExp(`"${name}"\\s*:\\s*(\\d+)`).exec(body)?.[1];
  const rows: PinterestRow[] = [];
  const at = body.search(/"events"\s*:\s*\[/);
  if (at >= 0) {
    // Every object but the last is complete; the last one may be cut.
    const chunks = body.slice(at).split(/\}\s*,\s*\{/);
    for (const chunk of chunks.slice(0, -1)) {
      const status = /"status"\s*:\s*"(processed|failed)"/.exec(chunk)?.[1];
      if (status !== 'processed' && status !== 'failed') break;
      const msg = new RegExp(`"error_message"\\s*:\\s*${STRING}`).exec(chunk)?.[1];
      rows.push({ status, error_message: jsonString(msg) });
    }
  }
  const code = field('code');
  return {
    code: code === undefined ? null : Number(code),
    message: jsonString(new RegExp(`"message"\\s*:\\s*${STRING}`).exec(body)?.[1]),
    received:
      field('num_events_received') === undefined ? null : Number(field('num_events_received')),
    processed:
      field('num_events_processed') === undefined ? null : Number(field('num_events_processed')),
    rows,
  };
}

/**
 * Reads a 200 `ConversionApiResponse` or an error body (`{code, message}`, and for 422 a
 * `details` object, whose counts and `events[]` are read where they appear).
 */
export function readPinterestAnswer(body: string): PinterestAnswer | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body.includes('"') ? fromText(body) : null;
  }
  if (!isObj(parsed)) return null;
  const details = isObj(parsed.details) ? parsed.details : {};
  const events = Array.isArray(parsed.events) ? parsed.events : details.events;
  const rows = Array.isArray(events) ? events.map(rowOf) : [];
  return {
    code: num(parsed.code),
    message: typeof parsed.message === 'string' ? parsed.message : null,
    received: num(parsed.num_events_received) ?? num(details.num_events_received),
    processed: num(parsed.num_events_processed) ?? num(details.num_events_processed),
    rows: rows.includes(null) ? [] : (rows as PinterestRow[]),
  };
}

const clean = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);

/**
 * Per-row verdicts from `events[]`: processed rows are done, failed rows dropped with
 * Pinterest's message (the same event fails again). Rows the excerpt does not show are done
 * after a 200. After a 422 they are dropped when Pinterest processed none or listed no row
 * at all (the request itself is wrong), else retried: a repeat of a processed event is
 * absorbed by its `event_id`.
 */
function perRow(a: PinterestAnswer, n: number, status: number): Interpretation {
  const verdicts: DeliveryVerdict[] = [];
  const notes: string[] = [];
  for (let i = 0; i < n; i++) {
    const row = a.rows[i];
    if (row?.status === 'processed') verdicts.push({ action: 'done' });
    else if (row?.status === 'failed') {
      const why = clean(row.error_message) || 'failed without a message';
      verdicts.push({ action: 'drop', reason: `event refused: ${why}` });
      if (notes.length < DETAIL_ROWS) notes.push(`data[${i}] ${why}`);
    } else if (status < 300) verdicts.push({ action: 'done' });
    else if (a.processed === 0 || a.rows.length === 0) {
      const why = `HTTP ${status} code ${a.code ?? '?'}: ${clean(a.message) || 'no message'}`;
      verdicts.push({ action: 'drop', reason: why });
      if (notes.length === 0) notes.push(why);
    } else {
      verdicts.push({
        action: 'retry',
        reason: 'outcome not in the excerpt of the answer; a repeat is deduplicated by event_id',
      });
    }
  }
  const done = verdicts.filter((v) => v.action === 'done').length;
  let detail = `${done} of ${n} event(s) processed`;
  if (notes.length > 0) detail += `; ${notes.join('; ')}`;
  if (a.rows.length < n && done < n) detail += `; ${n - a.rows.length} row(s) not in the excerpt`;
  return { verdicts, detail };
}

/**
 * Reads Pinterest's answer (STYLE rule 8):
 * - 200: done per row; a row `events[i].status` "failed" is dropped with its `error_message`.
 * - 422 "Not all events were successfully processed": the same per-row reading.
 * - 401 (code 2, authentication failed) and 403 (code 29, no access to this ad account):
 *   the token or the account id is wrong for every event; the destination pauses.
 * - 429 (code 8, rate limit; 5,000 calls a minute per ad account): retried, Retry-After
 *   honoured.
 * - 503 (code 4197, endpoint ramped down) and other 5xx: retried.
 * - 400 (code 4196, invalid request) and other 4xx: dropped.
 */
export function interpretPinterest(
  result: HttpResult,
  items: readonly DeliveryItem[],
  nowMs: number,
): Interpretation {
  const n = items.length;
  if (result.kind === 'network') {
    const v = classifyAttempt(result, nowMs);
    return { verdicts: items.map(() => v), detail: `network error: ${result.error}` };
  }
  const answer = readPinterestAnswer(result.bodyExcerpt);
  const s = result.status;
  if ((s >= 200 && s < 300) || (s === 422 && answer)) return perRow(answer ?? empty(), n, s);
  const what = answer
    ? `HTTP ${s} code ${answer.code ?? '?'}: ${clean(answer.message)}`
    : `HTTP ${s}: ${clean(result.bodyExcerpt).slice(0, 200)}`;
  const base = classifyAttempt(
    { kind: 'response', status: s, retryAfter: result.retryAfter },
    nowMs,
  );
  let verdict: DeliveryVerdict;
  if (base.action === 'done') verdict = base;
  else if (s === 401) verdict = { action: 'pause', reason: `access token refused: ${what}` };
  else if (s === 403)
    verdict = {
      action: 'pause',
      reason: `no access to ad account or token not permitted: ${what}`,
    };
  else if (s === 429) {
    const wait = base.action === 'retry' ? base.retryAfterMs : undefined;
    const after = wait === undefined ? '' : `, retry after ${Math.round(wait / 1000)} s`;
    verdict = { action: 'retry', reason: `rate limited${after}: ${what}`, retryAfterMs: wait };
  } else verdict = { ...base, reason: what };
  const detail =
    verdict.action === 'done'
      ? what
      : verdict.action === 'pause'
        ? `${verdict.reason}; destination paused`
        : verdict.reason;
  return { verdicts: items.map(() => verdict), detail };
}

function empty(): PinterestAnswer {
  return { code: null, message: null, received: null, processed: null, rows: [] };
}

/** Why Pinterest could not match the conversion to a person, or null. */
export function pinterestUnmatchable(item: DeliveryItem): string | null {
  const u = pinterestUserData(item);
  // "It is required at least one of 1) em, 2) hashed_maids or 3) pair client_ip_address +
  // client_user_agent."
  return u.em || (u.client_ip_address && u.client_user_agent)
    ? null
    : 'Pinterest needs a hashed email or the IP address and user agent';
}

/**
 * Pinterest through the Conversions API: up to 1,000 events per request, deduplicated against
 * the Pinterest tag by `event_id`, hashed identities only, the `_epik` click id passed through,
 * `?test=true` in test mode (validated and answered, not recorded).
 */
export const pinterestDestination: DestinationAdapter<PinterestSettings> = {
  type: 'pinterest',
  settingsSchema: PinterestSettings,
  maxBatch: PINTEREST_MAX_EVENTS,
  defaultBaseUrl: DEFAULT_BASE_URL,
  refuse(item) {
    if (item.event.consent.ads === false) return 'ads consent denied';
    return pinterestUnmatchable(item);
  },
  unmatchable: pinterestUnmatchable,
  testChannel: () => 'Pinterest ?test=true (validated, not recorded)',
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, DEFAULT_BASE_URL);
    const account = encodeURIComponent(ctx.settings.ad_account_id);
    return {
      url: `${base}/v5/ad_accounts/${account}/events${ctx.dest.test_mode ? '?test=true' : ''}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ctx.settings.access_token}`,
        'user-agent': 'pixeltrail-pinterest/1',
      },
      body: JSON.stringify({ data: items.map((item) => pinterestEvent(item, ctx)) }),
    };
  },
  interpret: interpretPinterest,
};
