/** `Retry-After` is honoured up to this many seconds (DESIGN §7). */
export const RETRY_AFTER_CAP_S = 300;
/** Backoff never waits longer than this between two attempts. */
export const MAX_BACKOFF_MS = 3_600_000;

/**
 * The network error of a send refused because the destination's address is inside the
 * network (guarded-send.ts): a setting to fix, not a failure to retry.
 */
export const ADDRESS_REFUSED = 'address_refused';

/** What the worker does with an outbox row after one attempt. */
export type DeliveryVerdict =
  | { action: 'done' }
  | { action: 'retry'; reason: string; retryAfterMs?: number }
  | { action: 'drop'; reason: string }
  | { action: 'pause'; reason: string };

/** One attempt's outcome as seen by the worker: an HTTP status, or a network error. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; retryAfter?: string | null }
  | { kind: 'network'; error: string };

function parseRetryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim())
    ? Number(header)
    : (Date.parse(header) - nowMs) / 1000;
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  return Math.min(seconds, RETRY_AFTER_CAP_S) * 1000;
}

/**
 * Classifies one destination response (after Segment's publisher, DESIGN §7):
 * - 2xx: delivered.
 * - 401/403: credentials are wrong; retrying burns budget for nothing, so the row is
 *   dropped and the destination paused until someone fixes it.
 * - 400/404/422 and other 4xx: the platform refuses this payload; a retry gets the same.
 * - 408, 429, 5xx except 501/505, network errors: transient, retried; `Retry-After` honoured.
 * - 501/505: the endpoint will never accept this request; dropped.
 * - A destination made through the admin API aimed inside the network (`address_refused`):
 *   paused like wrong credentials, until its address or `allow_private_destinations` changes.
 */
export function classifyAttempt(outcome: AttemptOutcome, nowMs: number): DeliveryVerdict {
  if (outcome.kind === 'network' && outcome.error.startsWith(ADDRESS_REFUSED))
    return { action: 'pause', reason: outcome.error };
  if (outcome.kind === 'network') return { action: 'retry', reason: `network: ${outcome.error}` };
  const s = outcome.status;
  if (s >= 200 && s < 300) return { action: 'done' };
  if (s === 401 || s === 403) return { action: 'pause', reason: `HTTP ${s}: credentials refused` };
  if (s === 408 || s === 429 || (s >= 500 && s !== 501 && s !== 505)) {
    return {
      action: 'retry',
      reason: `HTTP ${s}`,
      retryAfterMs: parseRetryAfterMs(outcome.retryAfter, nowMs),
    };
  }
  return { action: 'drop', reason: `HTTP ${s}: refused by the destination` };
}

/**
 * Exponential backoff with jitter: attempt 1 waits about `baseMs`, each next one twice as
 * long, capped at MAX_BACKOFF_MS; the wait is drawn from [50%, 100%] of that so that many
 * rows failing together do not retry in lockstep.
 */
export function backoffMs(attempt: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Retry budget of one destination. */
export interface RetryBudget {
  baseMs: number;
  /** Give up once the first attempt is this old (DESIGN §7: 24 h). */
  maxAgeMs: number;
  maxAttempts: number;
}

/**
 * When to try again, or `null` when the budget is spent and the row goes to dead-letter.
 * `Retry-After` replaces the backoff for this attempt.
 */
export function nextAttemptAt(
  verdict: Extract<DeliveryVerdict, { action: 'retry' }>,
  attempts: number,
  firstAttemptAtMs: number,
  nowMs: number,
  budget: RetryBudget,
  random: () => number,
): number | null {
  if (attempts >= budget.maxAttempts) return null;
  const at = nowMs + (verdict.retryAfterMs ?? backoffMs(attempts, budget.baseMs, random));
  return at - firstAttemptAtMs > budget.maxAgeMs ? null : at;
}
