// Reddit's answers to a Conversions API request, v2.0 and v3 alike, read from Reddit's CAPI
// error table (400 "There were N invalid conversion events. None were processed." with
// `invalid_events`, or "Bad Request" past 1,000 events; 401 "No bearer token provided" or
// UNAUTHORIZED; 403 "You're not authorized to post conversions to Pixel ID …" or "Missing
// adsconversions scope"; 429 default user agents or quota; 500 "The service is currently
// unavailable"), as v3's pages list it (quoted in Segment's action-destinations
// reddit-conversions-api/V3-API-REFERENCE.md). v3 wraps its answers in `data`
// (`{data:{message:"Successfully processed 1 conversion events."}}`) and states some 400s as
// `{error:{code, message}}` ("missing action_source", "invalid action_source: web").
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryItem, HttpResult, Interpretation } from './adapter.js';

/** How many of Reddit's per-event messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;

/**
 * Reddit's answers: v2's `{message, invalid_events}` and `{error:{reason, explanation}}`, v3's
 * `{data:{message}}` and `{error:{code, message}}` (e.g. "missing action_source").
 */
interface RedditAnswer {
  message?: string;
  invalid_events?: Array<{
    error_message?: string;
    event_index?: number;
    event?: {
      event_metadata?: { conversion_id?: string };
      metadata?: { conversion_id?: string };
    };
  }>;
  error?: { reason?: string; explanation?: string; message?: string };
}

function readAnswer(body: string): RedditAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return null;
    // v3 puts what v2 had at the top level inside `data`.
    const { data, ...top } = parsed as RedditAnswer & { data?: unknown };
    return typeof data === 'object' && data !== null ? { ...(data as RedditAnswer), ...top } : top;
  } catch {
    return null;
  }
}

/** Conversion ids named in a (possibly cut-off) body, for answers too long to parse. */
function conversionIdsIn(body: string): string[] {
  return [...body.matchAll(/"conversion_id"\s*:\s*"([^"]*)"/g)].map((m) => m[1]);
}

/**
 * Which items Reddit named as invalid: by `event_index` when given, else by the conversion id
 * each echoed event carries (ours, or its SHA-256 when Reddit hashed it).
 */
function invalidItems(
  answer: RedditAnswer | null,
  body: string,
  items: DeliveryItem[],
): Set<number> {
  const bad = new Set<number>();
  const ids = new Set(conversionIdsIn(body));
  for (const e of answer?.invalid_events ?? []) {
    if (typeof e.event_index === 'number') bad.add(e.event_index);
    const id = (e.event?.metadata ?? e.event?.event_metadata)?.conversion_id;
    if (id) ids.add(id);
  }
  items.forEach((item, i) => {
    const id = item.conversion.event_id;
    if (ids.has(id) || ids.has(sha256Hex(id))) bad.add(i);
  });
  return bad;
}

function describe(answer: RedditAnswer | null, body: string): string {
  if (!answer) return body.trim() || 'no body';
  if (answer.error) {
    const { reason, explanation, message } = answer.error;
    return [reason, explanation ?? message].filter(Boolean).join(': ') || body;
  }
  const msgs = (answer.invalid_events ?? [])
    .map((e) => e.error_message)
    .filter(Boolean)
    .slice(0, DETAIL_MESSAGES);
  return [answer.message, ...msgs].filter(Boolean).join('; ') || body;
}

/**
 * Reads Reddit's answer into one verdict per item:
 * - 2xx: delivered.
 * - 400 with `invalid_events`: Reddit processed none of the batch. The events it names are
 *   dropped with its message; the others are retried at once and go through without them.
 *   When none can be told apart, the whole batch is dropped (it would fail again).
 * - 401 (no or invalid token): pause.
 * - 403: "not authorized to post conversions" or a missing scope pauses; a 403 that explains a
 *   JSON type error is a payload problem, dropped.
 * - 429 (quota or throttled user agent), 408, 5xx, network errors: retried, Retry-After honoured.
 */
export function interpretReddit(
  result: HttpResult,
  items: DeliveryItem[],
  nowMs: number,
): Interpretation {
  const all = (v: DeliveryVerdict, detail: string) => ({ verdicts: items.map(() => v), detail });
  if (result.kind === 'network') return all(classifyAttempt(result, nowMs), result.error);
  const s = result.status;
  const answer = readAnswer(result.bodyExcerpt);
  const why = describe(answer, result.bodyExcerpt);
  if (s >= 200 && s < 300) return all({ action: 'done' }, why);
  if (s === 401) return all({ action: 'pause', reason: `access token refused: ${why}` }, why);
  if (s === 403) {
    const payload = /JSON error/i.test(answer?.error?.explanation ?? answer?.error?.message ?? '');
    return all(
      payload
        ? { action: 'drop', reason: `invalid payload: ${why}` }
        : { action: 'pause', reason: `not authorized for this account: ${why}` },
      why,
    );
  }
  if (s === 400) {
    const bad = invalidItems(answer, result.bodyExcerpt, items);
    if (bad.size > 0 && bad.size < items.length) {
      return {
        verdicts: items.map((_, i) =>
          bad.has(i)
            ? { action: 'drop', reason: `invalid event: ${why}` }
            : { action: 'retry', reason: 'sent again without the invalid events', retryAfterMs: 0 },
        ),
        detail: why,
      };
    }
    return all({ action: 'drop', reason: `events refused by Reddit: ${why}` }, why);
  }
  const byStatus = classifyAttempt(result, nowMs);
  if (byStatus.action !== 'retry') return all({ action: 'drop', reason: `HTTP ${s}: ${why}` }, why);
  const after = byStatus.retryAfterMs;
  const label = s === 429 ? 'rate limited' : byStatus.reason;
  return all(
    {
      ...byStatus,
      reason: `${label}${after === undefined ? '' : `, retry after ${Math.round(after / 1000)} s`}: ${why}`,
    },
    why,
  );
}
