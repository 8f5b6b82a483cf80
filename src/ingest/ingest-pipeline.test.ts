import { describe, expect, it, vi } from 'vitest';
import type { TrackedEvent } from '../domain/event.js';
import type { IngestTx, Store } from '../store/store.js';
import { IngestPipeline, MAX_EVENT_BATCH } from './ingest-pipeline.js';

function event(event_id: string): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'Purchase',
    event_id,
    event_time: 1_763_900_000,
    source: 'server',
    user: {},
    properties: {},
    consent: { ads: true, analytics: true },
    warnings: [],
  };
}

const request = (name: string, n: number) =>
  Array.from({ length: n }, (_, i) => event(`${name}-${i}`));

/**
 * A store whose transactions wait until `open()`: records the event ids each transaction
 * claimed, in order, and how many ran at once.
 */
function gatedStore() {
  const transactions: string[][] = [];
  let running = 0;
  let mostAtOnce = 0;
  let open = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const store = {
    dialect: 'postgres',
    insertTouches: async () => {},
    async ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T> {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      const claimed: string[] = [];
      transactions.push(claimed);
      const tx = {
        claimAndInsertEvent: async (_pk: string, e: TrackedEvent) => {
          claimed.push(e.event_id);
          return null;
        },
      } as unknown as IngestTx;
      try {
        const out = await fn(tx);
        await gate;
        return out;
      } finally {
        running--;
      }
    },
  } as unknown as Store;
  return { store, transactions, open, mostAtOnce: () => mostAtOnce };
}

function pipeline(store: Store, eventBatchesInFlight?: number, flushIntervalMs = 1) {
  let n = 0;
  return new IngestPipeline({
    store,
    nowMs: () => 1_763_900_000_000,
    flushIntervalMs,
    context: () => ({ environment: () => undefined, newId: () => `id${++n}` }),
    ...(eventBatchesInFlight ? { eventBatchesInFlight } : {}),
  });
}

describe('IngestPipeline event batches', () => {
  it('IP01 batches in flight side by side hold whole requests, each in order', async () => {
    const s = gatedStore();
    const p = pipeline(s.store, 4);
    const big = request('big', MAX_EVENT_BATCH + 50);
    const acks = [request('a', 200), request('b', 200), big].map((r) => p.recordEvents(r));
    // All three commit at once: none waits for another to finish.
    await vi.waitFor(() => expect(s.transactions).toHaveLength(3));
    s.open();
    const outcomes = await Promise.all(acks);
    expect(outcomes.map((o) => o.length)).toEqual([200, 200, MAX_EVENT_BATCH + 50]);
    expect(s.transactions).toEqual([
      request('a', 200).map((e) => e.event_id),
      request('b', 200).map((e) => e.event_id),
      big.map((e) => e.event_id),
    ]);
    expect(s.mostAtOnce()).toBe(3);
    await p.close();
  });

  it('IP02 small requests share a batch; close() waits for every batch in flight', async () => {
    const s = gatedStore();
    const p = pipeline(s.store, 2);
    const acks = [p.recordEvents(request('a', 2)), p.recordEvents(request('b', 3))];
    await vi.waitFor(() => expect(s.transactions).toHaveLength(1));
    const closed = p.close();
    s.open();
    await closed;
    expect((await Promise.all(acks)).flat().every((o) => o.status === 'accepted')).toBe(true);
    expect(s.transactions).toEqual([['a-0', 'a-1', 'b-0', 'b-1', 'b-2']]);
  });

  it('IP03 one batch at a time by default (SQLite), cut at MAX_EVENT_BATCH events', async () => {
    const s = gatedStore();
    const p = pipeline(s.store);
    const acks = [request('a', 200), request('b', 200)].map((r) => p.recordEvents(r));
    await vi.waitFor(() => expect(s.transactions).toHaveLength(1));
    s.open();
    await Promise.all(acks);
    expect(s.transactions.map((t) => t.length)).toEqual([MAX_EVENT_BATCH, 400 - MAX_EVENT_BATCH]);
    expect(s.mostAtOnce()).toBe(1);
    await p.close();
  });

  it('IP04 flush() waits for the batches already in flight (an erasure runs after them)', async () => {
    const s = gatedStore();
    const p = pipeline(s.store, 4);
    const acks = p.recordEvents(request('a', 2));
    await vi.waitFor(() => expect(s.transactions).toHaveLength(1));
    let flushed = false;
    const flush = p.flush().then(() => {
      flushed = true;
    });
    // Not a timed wait: every pending callback runs, twice over, and flush() is still held by
    // the batch in flight (the gated store answers only when opened).
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    s.open();
    await flush;
    expect(flushed).toBe(true);
    expect((await acks).every((o) => o.status === 'accepted')).toBe(true);
    await p.close();
  });

  it('IP08 adaptive group commit: an idle pipeline commits at once, whatever the flush interval; requests arriving during a commit go together in the next', async () => {
    const s = gatedStore();
    // An hour: were events to wait for the touches' timer, this test would time out.
    const p = pipeline(s.store, undefined, 3_600_000);
    const first = p.recordEvents(request('a', 1));
    await vi.waitFor(() => expect(s.transactions).toHaveLength(1));
    const later = [p.recordEvents(request('b', 1)), p.recordEvents(request('c', 2))];
    s.open();
    await Promise.all([first, ...later]);
    expect(s.transactions).toEqual([['a-0'], ['b-0', 'c-0', 'c-1']]);
    // Idle again: the next event is committed at once as well.
    await p.recordEvents(request('d', 1));
    expect(s.transactions.at(-1)).toEqual(['d-0']);
    await p.close();
  });

  it('IP05 events wait for the touches queued before them: refused while those cannot be committed', async () => {
    const s = gatedStore();
    s.open();
    let touchStoreUp = false;
    const committed: string[] = [];
    const store = {
      ...s.store,
      insertTouches: async (touches: { touch_id: string }[]) => {
        if (!touchStoreUp) throw new Error('database is locked');
        committed.push(...touches.map((t) => t.touch_id));
      },
      ingest: s.store.ingest.bind(s.store),
    } as unknown as Store;
    const p = pipeline(store);
    const touch = { env_id: 'env', kind: 'impression', touch_id: 'IMP-1', time: 1_763_900_000 };
    p.recordTouch(touch as Parameters<IngestPipeline['recordTouch']>[0]);
    await expect(p.recordEvents(request('a', 1))).rejects.toMatchObject({
      reason: 'store_unavailable',
    });
    // Attribution never ran without the impression.
    expect(s.transactions).toEqual([]);
    touchStoreUp = true;
    const [outcome] = await p.recordEvents(request('b', 1));
    expect(outcome.status).toBe('accepted');
    expect(committed).toEqual(['IMP-1']);
    expect(s.transactions).toEqual([['b-0']]);
    await p.close();
  });
});

describe('one request that our code fails on', () => {
  /** A store on which an event id of `poison` throws as JSON.stringify of a deep value did. */
  function poisonStore(failWith: () => Error) {
    const committed: string[] = [];
    const store = {
      dialect: 'sqlite',
      insertTouches: async () => {},
      async ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T> {
        const claimed: string[] = [];
        const tx = {
          claimAndInsertEvent: async (_pk: string, e: TrackedEvent) => {
            if (e.event_id === 'poison') throw failWith();
            claimed.push(e.event_id);
            return null;
          },
        } as unknown as IngestTx;
        const out = await fn(tx);
        committed.push(...claimed);
        return out;
      },
    } as unknown as Store;
    return { store, committed };
  }

  it('IP06 fails alone: the requests batched with it commit and the store is not reported failing', async () => {
    const s = poisonStore(() => new RangeError('Maximum call stack size exceeded'));
    const p = pipeline(s.store);
    const [a, poisoned, c] = await Promise.allSettled([
      p.recordEvents(request('a', 2)),
      p.recordEvents([event('ok-before'), event('poison')]),
      p.recordEvents(request('c', 2)),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(poisoned.status).toBe('rejected');
    expect(s.committed).toEqual(['a-0', 'a-1', 'c-0', 'c-1']);
    expect(p.failing).toBe(false);
    await p.close();
  });

  it('IP07 a store error still fails the whole batch at once, and says the store is failing', async () => {
    const s = poisonStore(() => new Error('SQLITE_FULL: database or disk is full'));
    const p = pipeline(s.store);
    const results = await Promise.allSettled([
      p.recordEvents(request('a', 2)),
      p.recordEvents([event('poison')]),
      p.recordEvents(request('c', 2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(s.committed).toEqual([]);
    expect(p.failing).toBe(true);
    await p.close();
  });
});
