// Reddit's answers to a Conversions API request, read from Reddit's CAPI error table
// (400 "There were N invalid conversion events. None were processed." with `invalid_events`,
// 401 UNAUTHORIZED, 403 not authorized for the pixel, 429 rate limits incl. default user
// agents, 500 unavailable).
import { classifyAttempt, type DeliveryVerdict } from '../../domain/delivery-policy.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryItem, HttpResult, Interpretation } from '../destination.js';

/** How many of Reddit's per-event messages the delivery log keeps. */
const DETAIL_MESSAGES = 3;

/** Reddit's error answers: `{message, invalid_events}` (400) or `{error:{reason, explanation}}`. */
interface RedditAnswer {
  message?: string;
  invalid_events?: Array<{
    error_message?: string;
    event_index?: number;
    event?: { event_metadata?: { conversion_id?: string } };
  }>;
  error?: { reason?: string; explanation?: string };
}

function readAnswer(body: string): RedditAnswer | null {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as RedditAnswer) : null;
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
    const id = e.event?.event_metadata?.conversion_id;
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
  if (answer.error)
    return [answer.error.reason, answer.error.explanation].filter(Boolean).join(': ');
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
    const payload = /JSON error/i.test(answer?.error?.explanation ?? '');
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
