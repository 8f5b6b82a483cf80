import type { DestinationConfig } from '../domain/config-types.js';
import { adsPermitted, underLimitedDataUse } from '../domain/consent.js';
import { classifyAttempt, type DeliveryVerdict, nextAttemptAt } from '../domain/delivery-policy.js';
import { isHashedIp } from '../domain/ip-privacy.js';
import { redactText } from '../domain/redact-text.js';
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimedJob,
  OutboxRecord,
  OutboxUpdate,
} from '../store/store.js';
import {
  type DeliveryContext,
  type DeliveryItem,
  type HttpResult,
  type Interpretation,
  type OutgoingRequest,
  requestFor,
} from './destinations/adapter.js';
import { adapterFor } from './destinations/registry.js';
import type { JobHandler } from './job-handler.js';
import type { WorkerDeps } from './worker-deps.js';

/** How much of a platform's answer the delivery log keeps per attempt. */
const DETAIL_CHARS = 500;

/**
 * One attempt of one outbox row (a conversion or a job), read but not yet recorded: the
 * attempt log line, the row's next state, and the verdict as logged.
 */
export interface Entry {
  d: { outbox: OutboxRecord };
  attempt: AttemptRecord;
  update: OutboxUpdate;
  verdict: string;
  reason: string | null;
}

/** One request's worth of claimed rows for one destination. */
export interface Batch {
  dest: DestinationConfig;
  rows: ClaimedDelivery[];
  /** The test code its events carry: the batch goes to the platform's test channel. */
  testCode?: string;
}

function attemptRecord(
  d: { outbox: OutboxRecord },
  at: number,
  duration: number,
  status: number | null,
  error: string | null,
  verdict: string,
  detail: string | null,
): AttemptRecord {
  return {
    outbox_id: d.outbox.id,
    env_id: d.outbox.env_id,
    at_ms: at,
    duration_ms: duration,
    status_code: status,
    error: error ? redactText(error) : null,
    verdict,
    // Platforms echo what they were sent in their errors: no PII goes into the attempt log.
    response_excerpt: detail ? redactText(detail.slice(0, DETAIL_CHARS)) : null,
  };
}

/** A row that is not sent (refused, or its destination is gone): it fails, with the reason. */
export function dropped(
  d: { outbox: OutboxRecord },
  at: number,
  reason: string,
  failed_for?: 'consent' | 'identifiers',
): Entry {
  return {
    d,
    attempt: attemptRecord(d, at, 0, null, reason, 'drop', null),
    update: { status: 'failed', ...(failed_for ? { failed_for } : {}) },
    verdict: 'drop',
    reason,
  };
}

/**
 * The row's next state after this verdict: delivered, failed, or pending until the next
 * attempt (backoff, or `Retry-After`), dead once the retry budget is spent (DESIGN §7).
 */
function nextState(
  d: { outbox: OutboxRecord },
  verdict: DeliveryVerdict,
  dest: DestinationConfig,
  at: number,
  done: number,
  random: () => number,
): OutboxUpdate {
  if (verdict.action === 'done') return { status: 'delivered' };
  if (verdict.action !== 'retry') return { status: 'failed' };
  const next = nextAttemptAt(
    verdict,
    d.outbox.attempts + 1,
    d.outbox.first_attempt_at_ms ?? at,
    done,
    dest.retry,
    random,
  );
  return next === null ? { status: 'dead' } : { status: 'pending', next_attempt_at_ms: next };
}

/** Without an adapter-specific reading, the status class decides for every item. */
export function defaultInterpretation(
  result: HttpResult,
  n: number,
  nowMs: number,
): Interpretation {
  const verdict = classifyAttempt(
    result.kind === 'network'
      ? result
      : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
    nowMs,
  );
  return {
    verdicts: Array.from({ length: n }, () => verdict),
    detail: result.kind === 'response' ? result.bodyExcerpt : result.error,
  };
}

/** What one attempt sends, and how the answer is read, for a conversion batch or a job. */
interface Send<T extends { outbox: OutboxRecord }> {
  /** When the attempt began (its rows' refusals were read then). */
  at: number;
  dest: DestinationConfig;
  env_id: string;
  rows: T[];
  request: (rows: T[]) => OutgoingRequest;
  read: (result: HttpResult, rows: T[], done: number) => Interpretation;
  /** The delivered row's payload from now on (a job keeps counts, not what it sent). */
  kept?: (row: T) => string;
}

/**
 * THE attempt, for conversions and jobs alike: re-leases the rows, sends one request, reads
 * the answer into each row's verdict and next state, and pauses the destination when the
 * answer says so (wrong credentials). Rows another worker took meanwhile are left out.
 *
 * The re-lease is for a full lease from now, just before sending: the send (bounded by its
 * timeout, shorter than the lease) cannot outlive the lease.
 */
export async function attempt<T extends { outbox: OutboxRecord }>(
  deps: WorkerDeps,
  s: Send<T>,
): Promise<Entry[]> {
  const { store, nowMs } = deps;
  const { at } = s;
  if (s.rows.length === 0) return [];
  const held = new Set(
    await store.extendLeases(
      deps.owner,
      s.rows.map((d) => d.outbox.id),
      nowMs() + deps.config().delivery_lease_ms,
    ),
  );
  const rows = s.rows.filter((d) => held.has(d.outbox.id));
  if (rows.length === 0) return [];
  const result = await deps.send(requestFor(s.dest, s.request(rows)), s.dest.timeout_ms);
  const done = nowMs();
  const reading = s.read(result, rows, done);
  const status = result.kind === 'response' ? result.status : null;
  const entries = rows.map((d, i): Entry => {
    const verdict = reading.verdicts[i] ?? reading.verdicts[0];
    let update = nextState(d, verdict, s.dest, at, done, deps.random);
    if (update.status === 'delivered' && s.kept)
      update = { status: 'delivered', payload: s.kept(d) };
    const reason = verdict.action === 'done' ? null : verdict.reason;
    const label = update.status === 'dead' ? 'dead-letter' : verdict.action;
    return {
      d,
      attempt: attemptRecord(d, at, done - at, status, reason, label, reading.detail),
      update,
      verdict: label,
      reason,
    };
  });
  const pause = reading.verdicts.find((v) => v.action === 'pause');
  if (pause && pause.action === 'pause') {
    await store.setDestinationPaused(s.env_id, s.dest.id, true, pause.reason, done);
    deps.observer?.paused(s.env_id, s.dest.id, pause.reason);
  }
  return entries;
}

/** Whether the rows behind these must wait: one is to be retried, or the destination paused. */
export function mustWait(entries: readonly Entry[]): boolean {
  return entries.some((e) => e.update.status === 'pending' || e.verdict === 'pause');
}

/** Records attempts in one transaction, then tells the observer. */
export async function record(deps: WorkerDeps, entries: readonly Entry[]): Promise<void> {
  await deps.store.finishAttempts(entries.map(({ attempt, update }) => ({ attempt, update })));
  for (const e of entries) deps.observer?.attempted(e.d, e.verdict, e.reason);
}

/**
 * Sends one batch of conversions. What the platform would refuse whole is dropped first (so
 * one bad row never sinks a batch), then the rest go in one attempt.
 */
export async function attemptBatch(deps: WorkerDeps, b: Batch): Promise<Entry[]> {
  const { dest, rows, testCode } = b;
  const adapter = adapterFor(dest.type);
  if (!adapter) return [];
  const at = deps.nowMs();
  // A test event only ever goes to the platform's test channel (DESIGN §7).
  const noTestChannel =
    testCode && !adapter.testChannel?.(dest.settings, testCode)
      ? `test event: ${dest.type} has no test channel, nothing sent`
      : null;
  const ctx: DeliveryContext<Record<string, unknown>> = {
    dest: testCode ? { ...dest, test_mode: true } : dest,
    settings: dest.settings,
    nowMs: at,
    ...(testCode ? { testCode } : {}),
  };
  const entries: Entry[] = [];
  const sendable: ClaimedDelivery[] = [];
  for (const d of rows) {
    const item = itemOf(d);
    // A later copy of the event withdrew consent (issue 20): it never leaves, unless the
    // destination sends sale opt-outs under the platform's Limited Data Use mode.
    const consent = d.event.consent;
    const denied =
      adsPermitted(consent) || underLimitedDataUse(dest.settings, consent)
        ? null
        : 'ads consent denied';
    const why = noTestChannel ?? denied ?? adapter.refuse?.(item, ctx) ?? null;
    if (!why) sendable.push(d);
    // Missing identifiers may still come with a later copy, which queues the row again.
    else if (denied) entries.push(dropped(d, at, why, 'consent'));
    else if (why === adapter.unmatchable?.(item, ctx))
      entries.push(dropped(d, at, why, 'identifiers'));
    else entries.push(dropped(d, at, why));
  }
  const sent = await attempt(deps, {
    at,
    dest,
    env_id: rows[0].outbox.env_id,
    rows: sendable,
    request: (held) => adapter.buildRequest(held.map(itemOf), ctx),
    read: (result, held, done) =>
      adapter.interpret?.(result, held.map(itemOf), done) ??
      defaultInterpretation(result, held.length, done),
  });
  return [...entries, ...sent];
}

/** Sends one job (an audience batch) in one attempt, unless its handler refuses it. */
export async function attemptJob(
  deps: WorkerDeps,
  h: JobHandler,
  job: ClaimedJob,
  dest: DestinationConfig | undefined,
): Promise<Entry[]> {
  const at = deps.nowMs();
  const why = dest ? await h.refuse?.(job, dest) : 'destination no longer configured';
  if (!dest || why) return [dropped(job, at, why ?? 'refused')];
  const { kept } = h;
  return attempt(deps, {
    at,
    dest,
    env_id: job.outbox.env_id,
    rows: [job],
    request: ([j]) => h.buildRequest(j, dest),
    read: (result, _rows, done) => ({
      verdicts: [h.interpret(result, dest, done)],
      detail: result.kind === 'response' ? result.bodyExcerpt : result.error,
    }),
    ...(kept ? { kept: (j: ClaimedJob) => JSON.stringify(kept(j)) } : {}),
  });
}

/** What an adapter is given of a claimed row. */
function itemOf(d: ClaimedDelivery): DeliveryItem {
  const { ip, ...user } = d.event.user;
  // Without the row's raw IP, the store's keyed hash is all there is: no address to send.
  const event = ip && isHashedIp(ip) ? { ...d.event, user } : d.event;
  return { outbox_id: d.outbox.id, conversion: d.conversion, event };
}
