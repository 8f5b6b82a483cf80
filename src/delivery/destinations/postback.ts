// Server-to-server postbacks as DSPs, affiliate networks and MMPs take them: a URL template
// whose `{macro}`s the sender fills in, each value URL-encoded (Keitaro:
// https://docs.keitaro.io/en/campaigns-and-streams/s2s-postback-placeholders.html; Prodege:
// https://docs.prodegeads.com/postbacks/postback-information; Taboola S2S:
// https://developers.taboola.com/pixel/docs/the-postback-url). GET by default; POST sends the
// same values form-encoded or as JSON (AppMetrica's postback body). A 2xx is success.
import { type Static, Type } from '@sinclair/typebox';
import { classifyAttempt } from '../../domain/delivery-policy.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryContext, DestinationAdapter, HttpResult, Interpretation } from './adapter.js';
import { platformEventName } from './platform-fields.js';

/** How much of the partner's answer goes into the delivery log's detail. */
const DETAIL_BODY_CHARS = 200;

const PostbackSettings = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'URL template; macros such as {imp_id} {click_id} {value} are filled in',
    }),
    method: Type.Optional(
      Type.Union([Type.Literal('GET'), Type.Literal('POST')], {
        description: 'GET (default) or POST',
      }),
    ),
    body: Type.Optional(
      Type.Union([Type.Literal('form'), Type.Literal('json')], {
        description: 'POST body encoding: form (default) or json',
      }),
    ),
  },
  { additionalProperties: false },
);
type PostbackSettings = Static<typeof PostbackSettings>;

/** The macros a template may use (the keys of a POST body too). */
export const POSTBACK_MACROS = [
  'imp_id',
  'click_id',
  'event_name',
  'event_id',
  'value',
  'currency',
  'conversion_id',
  'event_time',
  'campaign_id',
  'creative_id',
  'placement_id',
  'dest_id',
  'env_id',
] as const;
type Macro = (typeof POSTBACK_MACROS)[number];
type MacroValues = Record<Macro, string | number | null>;

/**
 * The values of one conversion. Touch ids come from this destination's own attribution only:
 * a touch is credited to the DSP that served it (DESIGN §6), so `imp_id` is the DSP's own id
 * coming back to it (the Freshpaint-style partner-namespaced impression id).
 */
export function postbackValues(c: ConversionRecord, eventName: string): MacroValues {
  const a = c.attribution;
  return {
    imp_id: a?.imp_id ?? null,
    click_id: a?.click_id ?? null,
    event_name: eventName,
    event_id: c.event_id,
    value: c.value,
    currency: c.currency,
    conversion_id: c.conversion_id,
    event_time: c.event_time,
    campaign_id: a?.campaign_id ?? null,
    creative_id: a?.creative_id ?? null,
    placement_id: a?.placement_id ?? null,
    dest_id: c.dest_id,
    env_id: c.env_id,
  };
}

const MACRO_RE = new RegExp(`\\{(${POSTBACK_MACROS.join('|')})\\}`, 'g');

/** Fills each known `{macro}` with its URL-encoded value (empty when absent); others stay. */
export function fillTemplate(template: string, values: MacroValues): string {
  return template.replace(MACRO_RE, (_, name: Macro) => {
    const v = values[name];
    return v === null ? '' : encodeURIComponent(String(v));
  });
}

function formBody(values: MacroValues): string {
  const form = new URLSearchParams();
  for (const k of POSTBACK_MACROS) form.set(k, values[k] === null ? '' : String(values[k]));
  return form.toString();
}

/**
 * Postback to any DSP, affiliate network or MMP: one conversion per request (postback URLs
 * carry one conversion each), the template filled in, GET or POST.
 */
export const postbackDestination: DestinationAdapter<PostbackSettings> = {
  type: 'postback',
  settingsSchema: PostbackSettings,
  maxBatch: 1,
  // The template is the URL: `base_url` does not apply.
  defaultBaseUrl: null,
  buildRequest([item], ctx: DeliveryContext<PostbackSettings>) {
    const c = item.conversion;
    const values = postbackValues(c, platformEventName(ctx.dest, c.event_name, {}));
    const url = fillTemplate(ctx.settings.url, values);
    const headers: Record<string, string> = {
      'user-agent': 'pixeltrail-postback/1',
      'idempotency-key': `${c.conversion_id}:${c.dest_id}`,
    };
    if ((ctx.settings.method ?? 'GET') === 'GET') return { url, method: 'GET', headers };
    if (ctx.settings.body === 'json') {
      headers['content-type'] = 'application/json';
      return { url, method: 'POST', headers, body: JSON.stringify(values) };
    }
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return { url, method: 'POST', headers, body: formBody(values) };
  },
  interpret: interpretPostback,
};

/**
 * Partners answer with plain status codes, so the status class decides (DESIGN §7); the
 * detail keeps the start of what the partner said (postback endpoints often explain a
 * refusal in the body: "unknown click id", "duplicate conversion").
 */
export function interpretPostback(
  result: HttpResult,
  items: readonly unknown[],
  nowMs: number,
): Interpretation {
  const verdict = classifyAttempt(
    result.kind === 'network'
      ? result
      : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
    nowMs,
  );
  let detail: string;
  if (result.kind === 'network') detail = `network error: ${result.error}`;
  else {
    const body = result.bodyExcerpt.replace(/\s+/g, ' ').trim().slice(0, DETAIL_BODY_CHARS);
    const what = verdict.action === 'done' ? 'accepted' : verdict.reason;
    detail = body ? `HTTP ${result.status} ${what}: ${body}` : `HTTP ${result.status} ${what}`;
    if (verdict.action === 'retry' && verdict.retryAfterMs !== undefined)
      detail += `; retry after ${Math.round(verdict.retryAfterMs / 1000)} s`;
  }
  return { verdicts: items.map(() => verdict), detail };
}
