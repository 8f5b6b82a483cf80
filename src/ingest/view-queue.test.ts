import { describe, expect, it } from 'vitest';
import type { Touch } from '../domain/event.js';
import { type ImpressionView, viewOf } from '../domain/viewability.js';
import type { IngestTx, Store } from '../store/store.js';
import { IngestPipeline } from './ingest-pipeline.js';
import { MAX_PENDING_VIEWS } from './view-queue.js';

const view = (imp_id: string): ImpressionView =>
  viewOf({ env_id: 'env', imp_id, dest_id: 'd' }, { viewable: true, time_to_view_ms: 1000 }, 1);

const touch = (touch_id: string) =>
  ({ env_id: 'env', kind: 'impression', touch_id, time: 1 }) as unknown as Touch;

/** A store that logs its writes in order; `failViews` makes view writes throw. */
function loggingStore() {
  const log: string[] = [];
  let failViews = false;
  const store = {
    insertTouches: async (t: readonly Touch[]) => {
      log.push(`touches ${t.map((x) => x.touch_id).join(',')}`);
    },
    upsertImpressionViews: async (v: readonly ImpressionView[]) => {
      if (failViews) throw new Error('disk full');
      log.push(`views ${v.map((x) => x.imp_id).join(',')}`);
    },
    ingest: async <T>(fn: (tx: IngestTx) => Promise<T>) => {
      log.push('events');
      return fn({} as IngestTx);
    },
  } as unknown as Store;
  return { store, log, failing: (f: boolean) => (failViews = f) };
}

function pipeline(store: Store, counts: Record<string, number> = {}) {
  return new IngestPipeline({
    store,
    context: () => ({ environment: () => undefined }) as never,
    nowMs: () => 1,
    flushIntervalMs: 60_000,
    observer: {
      touchesCommitted: () => {},
      eventsCommitted: () => {},
      failed: (kind, n) => {
        counts[`failed_${kind}`] = (counts[`failed_${kind}`] ?? 0) + n;
      },
      dropped: (kind, reason, n) => {
        counts[`${kind}_${reason}`] = (counts[`${kind}_${reason}`] ?? 0) + n;
      },
    },
  });
}

describe('viewability signals in the group commit', () => {
  it('VQ01 signals commit right after the touches queued with them, before any event batch', async () => {
    const { store, log } = loggingStore();
    const p = pipeline(store);
    p.recordView(view('A'));
    p.recordTouch(touch('A'));
    expect(p.pending).toBe(2);
    await p.recordEvents([]);
    await p.flush();
    expect(log).toEqual(['touches A', 'views A']);
    expect(p.pending).toBe(0);
    await p.close();
  });

  it('VQ02 a failed commit keeps the signals for the next one, and says so', async () => {
    const counts: Record<string, number> = {};
    const { store, log, failing } = loggingStore();
    const p = pipeline(store, counts);
    failing(true);
    p.recordView(view('A'));
    p.recordView(view('B'));
    await p.flush();
    expect(counts.failed_view).toBe(2);
    expect(p.pending).toBe(2);
    expect(p.failing).toBe(true);
    failing(false);
    p.recordView(view('C'));
    await p.flush();
    expect(log).toEqual(['views A,B,C']);
    await p.close();
  });

  it('VQ03 the queue is bounded: past it a signal is dropped and counted, never waited for', async () => {
    const counts: Record<string, number> = {};
    const p = pipeline(loggingStore().store, counts);
    for (let i = 0; i < MAX_PENDING_VIEWS; i++) expect(p.recordView(view(`I${i}`))).toBe(true);
    expect(p.recordView(view('over'))).toBe(false);
    expect(counts.view_queue_full).toBe(1);
    await p.close();
    expect(p.recordView(view('late'))).toBe(false);
    expect(counts.view_closed).toBe(1);
  });
});
