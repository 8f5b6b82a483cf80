import type { AppConfig, DestinationConfig } from '../config/config-types.js';
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
  Store,
} from '../store/store.js';
import {
  type DeliveryContext,
  type DeliveryItem,
  type HttpResult,
  type HttpSend,
  type Interpretation,
  requestFor,
} from './destination.js';
import { adapterFor } from './destinations/registry.js';
import type { JobHandler } from './job-handler.js';

/** Rows claimed per round. */
const CLAIM_BATCH_ROWS = 500;
/** Jobs claimed per round and kind; each is one request of up to thousands of rows. */
const CLAIM_BATCH_JOBS = 50;
/**
 * Destinations sent to at once per worker; each destination gets one request at a time, so
 * that its conversions arrive in order (batching platforms carry up to 1000 rows each).
 */
const SEND_CONCURRENCY = 32;
const IDLE_POLL_MS = 250;
/** A lane records its attempts at least this often, in rows and in milliseconds. */
const RECORD_EVERY_ROWS = 25;
const RECORD_EVERY_MS = 100;
/** How much of a platform's answer the delivery log keeps per attempt. */
const DETAIL_CHARS = 500;

/** Observes attempts for logs and metrics. */
export interface DeliveryObserver {
  attempted(d: { outbox: OutboxRecord }, verdict: string, detail: string | null): void;
  paused(env_id: string, dest_id: string, reason: string): void;
  workerError(message: string): void;
}

export interface WorkerDeps {
  store: Store;
  /** The current config snapshot (its destinations change at run time). */
  config: () => AppConfig;
  send: HttpSend;
  nowMs: () => number;
  random: () => number;
  owner: string;
  observer?: DeliveryObserver;
  /** Brings the destinations up to date (saved in another process) before rows are given up. */
  refreshDestinations?: () => Promise<void>;
  /** Kinds of outbox jobs besides conversions, and how to send each. */
  jobs?: readonly JobHandler[];
}

/** One row's attempt, read but not yet recorded. */
interface Entry {
  attempt: AttemptRecord;
  update: OutboxUpdate;
  d: ClaimedDelivery;
  verdict: string;
  reason: string | null;
}

/** One request's worth of claimed rows for one destination. */
interface Batch {
  dest: DestinationConfig;
  rows: ClaimedDelivery[];
  /** The test code its events carry: the batch goes to the platform's test channel. */
  testCode?: string;
}

/** Without an adapter-specific reading, the status class decides for every item. */
function defaultInterpretation(result: HttpResult, n: number, nowMs: number): Interpretation {
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

/**
 * Drains the outbox: claims due rows under a lease, groups them per destination into the
 * platform's batch size, sends each batch through its adapter, and records every row's
 * attempt and next state.
 */
export class DeliveryWorker {
  private running = false;
  /** Set by stop(): lanes finish the request in flight and hand the rest back. */
  private stopping = false;
  private loops: Promise<void>[] = [];
  private wakeUps = new Set<() => void>();
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    // Jobs (audience batches of thousands of rows) drain in a loop of their own: a platform
    // slow to take one must not hold back the next round of conversions.
    this.loops = [this.run(() => this.drainConversions()), this.run(() => this.drainJobRound())];
  }

  /** Stops claiming, and waits for the sends already in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wake();
    await Promise.all(this.loops);
    await Promise.all(this.inFlight);
  }

  /** New rows are waiting; skip the idle sleep. */
  wake(): void {
    for (const w of [...this.wakeUps]) w();
  }

  private async run(drain: () => Promise<number>): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await drain();
      } catch (e) {
        this.deps.observer?.workerError((e as Error).message);
      }
      if (claimed === 0 && this.running) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(t);
            this.wakeUps.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, IDLE_POLL_MS);
          this.wakeUps.add(wake);
        });
      }
    }
  }

  private async pausedSet(): Promise<Set<string>> {
    return new Set(
      (await this.deps.store.pausedDestinations()).map((p) => `${p.env_id}/${p.dest_id}`),
    );
  }

  /** Claims one round of due rows and jobs and sends them; returns how many. */
  async drainOnce(): Promise<number> {
    return (await this.drainConversions()) + (await this.drainJobRound());
  }

  private async drainJobRound(): Promise<number> {
    return this.drainJobs(await this.pausedSet());
  }

  /** Claims one round of due conversion rows and sends them, batches concurrently. */
  private async drainConversions(): Promise<number> {
    const { store, owner } = this.deps;
    const paused = await this.pausedSet();
    const rows = await store.claimDeliveries(
      this.deps.nowMs(),
      CLAIM_BATCH_ROWS,
      this.deps.config().delivery_lease_ms,
      owner,
      paused,
    );
    let { batches, orphans } = this.group(rows);
    if (orphans.length > 0 && this.deps.refreshDestinations) {
      // Another process may have just made this destination; look before failing its rows.
      await this.deps.refreshDestinations();
      ({ batches, orphans } = this.group(rows));
    }
    if (orphans.length > 0) {
      const at = this.deps.nowMs();
      await store.finishAttempts(
        orphans.map((d) => ({
          attempt: this.attempt(d, at, 0, null, 'destination no longer configured', 'drop', null),
          update: { status: 'failed' as const },
        })),
      );
    }
    // Rows not yet recorded keep their lease while the round lasts, however slow the
    // receivers: an expired lease would let another worker send them a second time.
    const unfinished = new Set(rows.map((r) => r.outbox.id));
    // One lane per destination: its batches go out one after another, in id order, and the
    // lane stops at the first batch that must be retried (or pauses the destination). The
    // rows behind it are handed back unsent, to follow once the head row gets through.
    const lanes = [...this.byDestination(batches).values()];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < lanes.length) await this.runLane(lanes[next++], unfinished);
    };
    await this.runLeased(
      unfinished,
      Array.from({ length: Math.min(SEND_CONCURRENCY, lanes.length) }, () => lane),
    );
    return rows.length;
  }

  /** Claims due jobs of each kind and sends them, one lane per destination and kind. */
  private async drainJobs(paused: ReadonlySet<string>): Promise<number> {
    const { store, owner } = this.deps;
    let claimed = 0;
    for (const handler of this.deps.jobs ?? []) {
      const jobs = await store.claimJobs(
        handler.kind,
        this.deps.nowMs(),
        CLAIM_BATCH_JOBS,
        this.deps.config().delivery_lease_ms,
        owner,
        paused,
      );
      claimed += jobs.length;
      if (jobs.length === 0) continue;
      const lanes = new Map<string, ClaimedJob[]>();
      for (const j of jobs) {
        const key = `${j.outbox.env_id}/${j.outbox.dest_id}`;
        lanes.set(key, [...(lanes.get(key) ?? []), j]);
      }
      const unfinished = new Set(jobs.map((j) => j.outbox.id));
      await this.runLeased(
        unfinished,
        [...lanes.values()].map((lane) => () => this.runJobLane(handler, lane, unfinished)),
      );
    }
    return claimed;
  }

  /**
   * Runs `lanes` at once, each tracked so that stop() waits for it, while the leases of the
   * ids still in `unfinished` are renewed every lease/3; rethrows the first lane's failure.
   */
  private async runLeased(
    unfinished: Set<number>,
    lanes: ReadonlyArray<() => Promise<void>>,
  ): Promise<void> {
    const { store, owner } = this.deps;
    const leaseMs = this.deps.config().delivery_lease_ms;
    const renew = setInterval(
      () => {
        store
          .extendLeases(owner, [...unfinished], this.deps.nowMs() + leaseMs)
          .catch((e: Error) => this.deps.observer?.workerError(`lease renewal: ${e.message}`));
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    renew.unref();
    try {
      const running = lanes.map((run) => {
        const p = run().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
        return p;
      });
      const failed = (await Promise.allSettled(running)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      clearInterval(renew);
    }
  }

  /** Sends one destination's jobs in order; stops at the first that must be retried. */
  private async runJobLane(h: JobHandler, lane: ClaimedJob[], unfinished: Set<number>) {
    for (let i = 0; i < lane.length; i++) {
      const stop = this.stopping || (await this.sendJob(h, lane[i]));
      unfinished.delete(lane[i].outbox.id);
      if (stop) {
        const rest = lane.slice(this.stopping ? i : i + 1).map((j) => j.outbox.id);
        for (const id of rest) unfinished.delete(id);
        if (rest.length > 0)
          await this.deps.store.extendLeases(this.deps.owner, rest, this.deps.nowMs() - 1);
        return;
      }
    }
  }

  /** Sends one job and records its attempt; true when the jobs behind it must wait. */
  private async sendJob(h: JobHandler, job: ClaimedJob): Promise<boolean> {
    const { store, nowMs } = this.deps;
    const at = nowMs();
    const find = () =>
      this.deps
        .config()
        .environments.find((e) => e.id === job.outbox.env_id)
        ?.destinations.find((x) => x.id === job.outbox.dest_id);
    let dest = find();
    if (!dest && this.deps.refreshDestinations) {
      // As for conversions: the destination may have been saved by another process.
      await this.deps.refreshDestinations();
      dest = find();
    }
    const why = dest ? await h.refuse?.(job, dest) : 'destination no longer configured';
    if (!dest || why) {
      const reason = why ?? 'refused';
      await store.finishAttempts([
        {
          attempt: this.attempt(job, at, 0, null, reason, 'drop', null),
          update: { status: 'failed' },
        },
      ]);
      this.deps.observer?.attempted(job, 'drop', reason);
      return false;
    }
    const held = await store.extendLeases(
      this.deps.owner,
      [job.outbox.id],
      nowMs() + this.deps.config().delivery_lease_ms,
    );
    if (held.length === 0) return false;
    const result = await this.deps.send(
      requestFor(dest, h.buildRequest(job, dest)),
      dest.timeout_ms,
    );
    const done = nowMs();
    const verdict = h.interpret(result, dest, done);
    let update = this.nextState(job, verdict, dest, at, done);
    if (update.status === 'delivered' && h.kept)
      update = { status: 'delivered', payload: JSON.stringify(h.kept(job)) };
    const reason = verdict.action === 'done' ? null : verdict.reason;
    const label = update.status === 'dead' ? 'dead-letter' : verdict.action;
    const detail = result.kind === 'response' ? result.bodyExcerpt : result.error;
    const status = result.kind === 'response' ? result.status : null;
    await store.finishAttempts([
      { attempt: this.attempt(job, at, done - at, status, reason, label, detail), update },
    ]);
    this.deps.observer?.attempted(job, label, reason);
    if (verdict.action === 'pause') {
      await store.setDestinationPaused(job.outbox.env_id, dest.id, true, verdict.reason, done);
      this.deps.observer?.paused(job.outbox.env_id, dest.id, verdict.reason);
    }
    return update.status === 'pending' || verdict.action === 'pause';
  }

  /**
   * Sends one destination's batches in order. Attempts are recorded every RECORD_EVERY_ROWS
   * rows or RECORD_EVERY_MS (one transaction each, not one per request): a crash in between
   * re-sends those rows under their lease, with the same idempotency key.
   */
  private async runLane(queue: Batch[], unfinished: Set<number>): Promise<void> {
    const { store } = this.deps;
    let unrecorded: Entry[] = [];
    let recordedAt = Date.now();
    const record = async () => {
      const entries = unrecorded;
      unrecorded = [];
      recordedAt = Date.now();
      await store.finishAttempts(entries.map(({ attempt, update }) => ({ attempt, update })));
      for (const e of entries) {
        unfinished.delete(e.d.outbox.id);
        this.deps.observer?.attempted(e.d, e.verdict, e.reason);
      }
    };
    // Batches start in order, at most `max_in_flight` at once (1: strictly one after the
    // other); after a batch that must be retried, none behind it starts.
    const window = Math.max(1, queue[0]?.dest.max_in_flight ?? 1);
    const sending = new Set<Promise<void>>();
    let next = 0;
    let blocked = false;
    const send = async (b: Batch) => {
      const sent = await this.deliver(b);
      unrecorded.push(...sent.entries);
      if (sent.stop) blocked = true;
      if (unrecorded.length >= RECORD_EVERY_ROWS || Date.now() - recordedAt >= RECORD_EVERY_MS)
        await record();
    };
    try {
      while (next < queue.length && !blocked && !this.stopping) {
        if (sending.size >= window) {
          await Promise.race(sending);
          continue;
        }
        const p: Promise<void> = send(queue[next++]).finally(() => sending.delete(p));
        sending.add(p);
      }
      await Promise.all(sending);
      if (next < queue.length) await this.handBack(queue.slice(next), unfinished);
    } finally {
      if (unrecorded.length > 0) await record();
    }
  }

  /** Gives unsent rows back (their lease ends now) for a later round or another worker. */
  private async handBack(batches: Batch[], unfinished: Set<number>): Promise<void> {
    const ids = batches.flatMap((x) => x.rows.map((r) => r.outbox.id));
    for (const id of ids) unfinished.delete(id);
    if (ids.length > 0)
      await this.deps.store.extendLeases(this.deps.owner, ids, this.deps.nowMs() - 1);
  }

  private byDestination(batches: Batch[]): Map<string, Batch[]> {
    const lanes = new Map<string, Batch[]>();
    for (const b of batches) {
      const key = `${b.rows[0].outbox.env_id}/${b.dest.id}`;
      const lane = lanes.get(key) ?? [];
      lane.push(b);
      lanes.set(key, lane);
    }
    return lanes;
  }

  private group(rows: ClaimedDelivery[]): { batches: Batch[]; orphans: ClaimedDelivery[] } {
    const byDest = new Map<string, Batch>();
    const orphans: ClaimedDelivery[] = [];
    for (const d of rows) {
      const dest = this.deps
        .config()
        .environments.find((e) => e.id === d.outbox.env_id)
        ?.destinations.find((x) => x.id === d.outbox.dest_id);
      if (!dest || !adapterFor(dest.type)) {
        orphans.push(d);
        continue;
      }
      // Test events go in requests of their own, to the test channel (the code is per request).
      const testCode = d.event.test_code;
      const key = `${d.outbox.env_id}/${dest.id}/${testCode ?? ''}`;
      const b = byDest.get(key) ?? { dest, rows: [], ...(testCode ? { testCode } : {}) };
      b.rows.push(d);
      byDest.set(key, b);
    }
    const batches: Batch[] = [];
    for (const b of byDest.values()) {
      const adapter = adapterFor(b.dest.type);
      const limit = adapter?.maxBatchFor?.(b.dest, b.dest.settings) ?? adapter?.maxBatch ?? 1;
      const size = Math.max(1, Math.min(b.dest.batch.size, limit));
      for (let i = 0; i < b.rows.length; i += size)
        batches.push({ ...b, rows: b.rows.slice(i, i + size) });
    }
    return { batches, orphans };
  }

  private attempt(
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

  private nextState(
    d: { outbox: OutboxRecord },
    verdict: DeliveryVerdict,
    dest: DestinationConfig,
    at: number,
    done: number,
  ): OutboxUpdate {
    if (verdict.action === 'done') return { status: 'delivered' };
    if (verdict.action !== 'retry') return { status: 'failed' };
    const next = nextAttemptAt(
      verdict,
      d.outbox.attempts + 1,
      d.outbox.first_attempt_at_ms ?? at,
      done,
      dest.retry,
      this.deps.random,
    );
    return next === null ? { status: 'dead' } : { status: 'pending', next_attempt_at_ms: next };
  }

  /**
   * Sends one batch and reads the answer into attempt entries. `stop` when a row is to be
   * retried or the destination was paused: the rows behind it must not overtake it.
   */
  private async deliver({
    dest,
    rows,
    testCode,
  }: Batch): Promise<{ entries: Entry[]; stop: boolean }> {
    const { store, nowMs } = this.deps;
    const adapter = adapterFor(dest.type);
    if (!adapter) return { entries: [], stop: false };
    const at = nowMs();
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
    // Drop up front what the platform would refuse whole, so one bad row never sinks a batch.
    const sendable: ClaimedDelivery[] = [];
    for (const d of rows) {
      const item = this.item(d);
      // A later copy of the event withdrew consent (issue 20): it never leaves, unless the
      // destination sends sale opt-outs under the platform's Limited Data Use mode.
      const consent = d.event.consent;
      const denied =
        adsPermitted(consent) || underLimitedDataUse(dest.settings, consent)
          ? null
          : 'ads consent denied';
      const why = noTestChannel ?? denied ?? adapter.refuse?.(item, ctx) ?? null;
      if (why) {
        // Missing identifiers may still come with a later copy, which queues the row again.
        const failed_for = denied
          ? ('consent' as const)
          : why === adapter.unmatchable?.(item, ctx)
            ? ('identifiers' as const)
            : undefined;
        entries.push({
          d,
          attempt: this.attempt(d, at, 0, null, why, 'drop', null),
          update: { status: 'failed', ...(failed_for ? { failed_for } : {}) },
          verdict: 'drop',
          reason: why,
        });
      } else sendable.push(d);
    }
    // Re-lease just before sending, for a full lease from now: the send (bounded by its
    // timeout, shorter than the lease) cannot outlive the lease, and a row another worker
    // took meanwhile (this one was too slow to get here) is left to that worker.
    if (sendable.length > 0) {
      const held = new Set(
        await store.extendLeases(
          this.deps.owner,
          sendable.map((d) => d.outbox.id),
          nowMs() + this.deps.config().delivery_lease_ms,
        ),
      );
      for (let i = sendable.length - 1; i >= 0; i--)
        if (!held.has(sendable[i].outbox.id)) sendable.splice(i, 1);
    }
    if (sendable.length > 0) {
      const items = sendable.map((d) => this.item(d));
      const result = await this.deps.send(
        requestFor(dest, adapter.buildRequest(items, ctx)),
        dest.timeout_ms,
      );
      const done = nowMs();
      const reading =
        adapter.interpret?.(result, items, done) ??
        defaultInterpretation(result, items.length, done);
      const status = result.kind === 'response' ? result.status : null;
      sendable.forEach((d, i) => {
        const verdict = reading.verdicts[i] ?? reading.verdicts[0];
        const update = this.nextState(d, verdict, dest, at, done);
        const reason = verdict.action === 'done' ? null : verdict.reason;
        const label = update.status === 'dead' ? 'dead-letter' : verdict.action;
        entries.push({
          d,
          attempt: this.attempt(d, at, done - at, status, reason, label, reading.detail),
          update,
          verdict: label,
          reason,
        });
      });
      const pause = reading.verdicts.find((v) => v.action === 'pause');
      if (pause && pause.action === 'pause') {
        await store.setDestinationPaused(rows[0].outbox.env_id, dest.id, true, pause.reason, done);
        this.deps.observer?.paused(rows[0].outbox.env_id, dest.id, pause.reason);
      }
    }
    const stop = entries.some((e) => e.update.status === 'pending' || e.verdict === 'pause');
    return { entries, stop };
  }

  private item(d: ClaimedDelivery): DeliveryItem {
    const { ip, ...user } = d.event.user;
    // Without the row's raw IP, the store's keyed hash is all there is: no address to send.
    const event = ip && isHashedIp(ip) ? { ...d.event, user } : d.event;
    return { outbox_id: d.outbox.id, conversion: d.conversion, event };
  }
}
