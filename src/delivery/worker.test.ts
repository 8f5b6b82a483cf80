// The delivery worker's spec table (DESIGN §7): what one answer of a platform, at a given
// attempt, makes of an outbox row — its status, when it is tried next, whether the
// destination is paused — for a conversion and for an audience job alike (one attempt path,
// attempt.ts). Stepped with drainOnce() and a stepped clock: nothing sleeps.
import { describe, expect, it } from 'vitest';
import { testDestination, testItem } from '../../test/fixtures/destination.js';
import type { AppConfig, DestinationConfig } from '../domain/config-types.js';
import { classifyAttempt } from '../domain/delivery-policy.js';
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimedJob,
  OutboxRecord,
  OutboxUpdate,
  Store,
} from '../store/store.js';
import type { HttpResult } from './destinations/adapter.js';
import type { JobHandler } from './job-handler.js';
import { DeliveryWorker } from './worker.js';

const T0 = 1_750_000_000_000;
const S = 1000;
const H = 3_600_000;
const LEASE_MS = 60_000;
const DEST = testDestination({
  id: 'dsp1',
  type: 'webhook',
  settings: { url: 'http://127.0.0.1:9/hook' },
  retry: { baseMs: S, maxAgeMs: 24 * H, maxAttempts: 100 },
});

/** An outbox held in memory, with the claim and lease rules of the real stores. */
function memoryStore(kind: string) {
  type Row = OutboxRecord & { lease_owner: string | null; lease_until_ms: number | null };
  const rows: Row[] = [];
  const attempts: AttemptRecord[] = [];
  const paused = new Map<string, string | null>();
  const item = testItem({
    dest_id: 'dsp1',
    source: 'server',
    nowS: T0 / 1000,
    user: { user_id: 'u1' },
    props: { value: 10, currency: 'EUR' },
  });
  const due = (now: number, k: string, limit: number, lease: number, owner: string) => {
    const claimed = rows
      .filter(
        (r) =>
          r.kind === k &&
          r.status === 'pending' &&
          r.next_attempt_at_ms <= now &&
          (r.lease_until_ms === null || r.lease_until_ms < now) &&
          !paused.has(`${r.env_id}/${r.dest_id}`),
      )
      .slice(0, limit);
    for (const r of claimed) Object.assign(r, { lease_owner: owner, lease_until_ms: now + lease });
    return claimed;
  };
  const store = {
    pausedDestinations: async () =>
      [...paused].map(([key, reason]) => {
        const [env_id, dest_id] = key.split('/');
        return { env_id, dest_id, reason };
      }),
    setDestinationPaused: async (env: string, dest: string, on: boolean, why: string | null) => {
      if (on) paused.set(`${env}/${dest}`, why);
      else paused.delete(`${env}/${dest}`);
    },
    claimDeliveries: async (now: number, limit: number, lease: number, owner: string) =>
      due(now, 'conversion', limit, lease, owner).map(
        (r): ClaimedDelivery => ({
          outbox: { ...r },
          conversion: item.conversion,
          event: item.event,
        }),
      ),
    claimJobs: async (k: string, now: number, limit: number, lease: number, owner: string) =>
      due(now, k, limit, lease, owner).map(
        (r): ClaimedJob => ({ outbox: { ...r }, payload: { add: 1 } }),
      ),
    extendLeases: async (owner: string, ids: readonly number[], until: number) => {
      const held = rows.filter((r) => ids.includes(r.id) && r.lease_owner === owner);
      for (const r of held) r.lease_until_ms = until;
      return held.map((r) => r.id);
    },
    finishAttempts: async (
      entries: ReadonlyArray<{ attempt: AttemptRecord; update: OutboxUpdate }>,
    ) => {
      for (const { attempt: a, update } of entries) {
        attempts.push(a);
        const r = rows.find((x) => x.id === a.outbox_id);
        if (!r) throw new Error(`no row ${a.outbox_id}`);
        Object.assign(r, {
          status: update.status,
          attempts: r.attempts + 1,
          first_attempt_at_ms: r.first_attempt_at_ms ?? a.at_ms,
          next_attempt_at_ms:
            update.status === 'pending' ? update.next_attempt_at_ms : r.next_attempt_at_ms,
          lease_owner: null,
          lease_until_ms: null,
        });
      }
    },
  } as unknown as Store;
  rows.push({
    id: 1,
    env_id: 'env_t',
    conversion_id: kind === 'conversion' ? 'cv-1' : 'aud_1:1',
    dest_id: 'dsp1',
    kind,
    status: 'pending',
    attempts: 0,
    next_attempt_at_ms: T0,
    first_attempt_at_ms: null,
    last_status: null,
    last_error: null,
    created_at_ms: T0,
    updated_at_ms: T0,
    delivered_at_ms: null,
    lease_owner: null,
    lease_until_ms: null,
  });
  return { store, row: rows[0], attempts, paused };
}

/** An audience job whose platform answers by the status classes alone, as conversions do. */
const audienceJob: JobHandler = {
  kind: 'audience_sync',
  buildRequest: () => ({ method: 'POST', url: 'http://127.0.0.1:9/audience', headers: {} }),
  interpret: (result, _dest, nowMs) =>
    classifyAttempt(
      result.kind === 'network'
        ? result
        : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
      nowMs,
    ),
  kept: () => ({ added: 1 }),
};

/** A worker over one outbox row of `kind`, its platform answering `answer` every time. */
function harness(
  kind: 'conversion' | 'audience_sync',
  answer: () => HttpResult,
  dest: DestinationConfig = DEST,
) {
  const mem = memoryStore(kind);
  let now = T0;
  let sends = 0;
  const pauses: string[] = [];
  const config = {
    delivery_lease_ms: LEASE_MS,
    environments: [{ id: 'env_t', destinations: [dest] }],
  } as unknown as AppConfig;
  const worker = new DeliveryWorker({
    store: mem.store,
    config: () => config,
    send: async () => {
      sends++;
      return answer();
    },
    nowMs: () => now,
    // The top of the jitter range: each backoff is exactly base × 2^(attempt−1).
    random: () => 1,
    owner: 'test-owner',
    observer: {
      attempted: () => {},
      paused: (_env, dest, reason) => pauses.push(`${dest}: ${reason}`),
      workerError: (message) => {
        throw new Error(message);
      },
    },
    jobs: [audienceJob],
  });
  return {
    ...mem,
    worker,
    pauses,
    sends: () => sends,
    at: () => now,
    step: (ms: number) => {
      now += ms;
    },
    /** Steps the clock to the row's next attempt and runs one round. */
    async next(): Promise<number> {
      now = Math.max(now, mem.row.next_attempt_at_ms);
      return worker.drainOnce();
    },
  };
}

const response = (status: number, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: `{"status":${status}}`,
});
const network: HttpResult = { kind: 'network', error: 'ECONNREFUSED' };

/** What one attempt makes of the row: status, wait before the next attempt, pause, log verdict. */
interface Row {
  answer: HttpResult;
  status: OutboxRecord['status'];
  /** Milliseconds from the attempt to the next one; null when there is none. */
  next: number | null;
  paused: boolean;
  logged: string;
}

const SPEC: Array<[string, Row]> = [
  [
    '200 delivered',
    { answer: response(200), status: 'delivered', next: null, paused: false, logged: 'done' },
  ],
  [
    '204 delivered',
    { answer: response(204), status: 'delivered', next: null, paused: false, logged: 'done' },
  ],
  [
    '400 refused, not retried',
    { answer: response(400), status: 'failed', next: null, paused: false, logged: 'drop' },
  ],
  [
    '401 not retried, destination paused',
    { answer: response(401), status: 'failed', next: null, paused: true, logged: 'pause' },
  ],
  [
    '403 not retried, destination paused',
    { answer: response(403), status: 'failed', next: null, paused: true, logged: 'pause' },
  ],
  [
    '404 refused, not retried',
    { answer: response(404), status: 'failed', next: null, paused: false, logged: 'drop' },
  ],
  [
    '422 refused, not retried',
    { answer: response(422), status: 'failed', next: null, paused: false, logged: 'drop' },
  ],
  [
    '408 retried after the backoff',
    { answer: response(408), status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
  [
    '429 retried after the backoff',
    { answer: response(429), status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
  [
    '429 Retry-After: 120 honoured',
    {
      answer: response(429, '120'),
      status: 'pending',
      next: 120 * S,
      paused: false,
      logged: 'retry',
    },
  ],
  [
    '429 Retry-After: 3600 capped at 300 s',
    {
      answer: response(429, '3600'),
      status: 'pending',
      next: 300 * S,
      paused: false,
      logged: 'retry',
    },
  ],
  [
    '500 retried',
    { answer: response(500), status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
  [
    '501 not retried',
    { answer: response(501), status: 'failed', next: null, paused: false, logged: 'drop' },
  ],
  [
    '502 retried',
    { answer: response(502), status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
  [
    '503 Retry-After: 7 honoured',
    { answer: response(503, '7'), status: 'pending', next: 7 * S, paused: false, logged: 'retry' },
  ],
  [
    '504 retried',
    { answer: response(504), status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
  [
    '505 not retried',
    { answer: response(505), status: 'failed', next: null, paused: false, logged: 'drop' },
  ],
  [
    'network error retried',
    { answer: network, status: 'pending', next: S, paused: false, logged: 'retry' },
  ],
];

describe.each(['conversion', 'audience_sync'] as const)('delivery worker spec (%s)', (kind) => {
  it.each(SPEC)('WS01 first attempt, %s', async (_name, spec) => {
    const h = harness(kind, () => spec.answer);
    expect(await h.worker.drainOnce()).toBe(1);
    expect(h.sends()).toBe(1);
    expect(h.row.status).toBe(spec.status);
    expect(h.row.status === 'pending' ? h.row.next_attempt_at_ms - h.at() : null).toBe(spec.next);
    expect(h.paused.has('env_t/dsp1')).toBe(spec.paused);
    expect(h.pauses).toEqual(spec.paused ? [expect.stringMatching(/^dsp1: HTTP 40[13]/)] : []);
    expect(h.attempts.map((a) => a.verdict)).toEqual([spec.logged]);
    expect(h.attempts[0].status_code).toBe(
      spec.answer.kind === 'response' ? spec.answer.status : null,
    );
    // Nothing more is sent within the round's clock: a retry waits for its time.
    expect(await h.worker.drainOnce()).toBe(0);
    expect(h.sends()).toBe(1);
  });

  it('WS02 a retried row is not sent before its time, and is at its time', async () => {
    const h = harness(kind, () => response(503));
    await h.worker.drainOnce();
    expect(h.row.next_attempt_at_ms).toBe(T0 + S);
    h.step(S - 1);
    expect(await h.worker.drainOnce()).toBe(0);
    expect(h.sends()).toBe(1);
    h.step(1);
    expect(await h.worker.drainOnce()).toBe(1);
    expect(h.sends()).toBe(2);
    // The second attempt waits twice as long (base × 2^(attempt−1)).
    expect(h.row.next_attempt_at_ms - h.at()).toBe(2 * S);
  });

  it('WS03 dead-letter after max_attempts', async () => {
    const retry = { ...DEST.retry, maxAttempts: 5 };
    const h = harness(kind, () => response(500), { ...DEST, retry });
    for (let i = 0; i < 5; i++) expect(await h.next()).toBe(1);
    expect(h.row.status).toBe('dead');
    expect(h.row.attempts).toBe(5);
    expect(h.attempts.at(-1)?.verdict).toBe('dead-letter');
    expect(h.attempts.slice(0, -1).every((a) => a.verdict === 'retry')).toBe(true);
    h.step(24 * H);
    expect(await h.worker.drainOnce()).toBe(0);
    expect(h.sends()).toBe(5);
  });

  it('WS04 dead-letter once the next attempt would fall past 24 h after the first', async () => {
    const h = harness(kind, () => response(503));
    let rounds = 0;
    while (h.row.status === 'pending' && rounds < 100) {
      await h.next();
      rounds++;
    }
    expect(h.row.status).toBe('dead');
    // Backoff doubles from 1 s and is capped at 1 h: 1+2+…+2048 s, then hours, until 24 h.
    expect(rounds).toBe(35);
    expect(h.at() - T0).toBeLessThanOrEqual(24 * H);
    expect(h.at() - T0 + H).toBeGreaterThan(24 * H);
    expect(h.attempts.at(-1)?.verdict).toBe('dead-letter');
  });

  it('WS05 a paused destination gets nothing more until resumed', async () => {
    let status = 401;
    const h = harness(kind, () => response(status));
    await h.worker.drainOnce();
    expect(h.paused.has('env_t/dsp1')).toBe(true);
    // The row failed; queued again (a replay), it waits while the destination is paused.
    Object.assign(h.row, { status: 'pending', next_attempt_at_ms: h.at() });
    h.step(H);
    expect(await h.worker.drainOnce()).toBe(0);
    expect(h.sends()).toBe(1);
    h.paused.clear();
    status = 200;
    expect(await h.worker.drainOnce()).toBe(1);
    expect(h.row.status).toBe('delivered');
    expect(h.sends()).toBe(2);
  });
});
