import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import type { ImpressionView } from '../../src/domain/viewability.js';
import type { Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// Issue 24: the viewability rows (migrations 0025, 0038) on both stores — an upsert keyed by
// the destination and impression id that merges in either order, the touch list that joins
// them, their purge.
const T = 1_763_900_000;
const MS = T * 1000;
const hasPostgres = await postgresAvailable();

function touch(touch_id: string, over: Partial<Touch> = {}): Touch {
  return {
    env_id: 'env',
    kind: 'impression',
    touch_id,
    dest_id: 'd1',
    campaign_id: 'c1',
    creative_id: 'cr1',
    placement_id: 'pl1',
    time: T,
    anonymous_id: 'anon-1',
    user_id: null,
    ip: '203.0.113.9',
    user_agent: 'UA',
    ...over,
  };
}

function view(imp_id: string, over: Partial<ImpressionView> = {}): ImpressionView {
  return {
    env_id: 'env',
    imp_id,
    dest_id: 'd1',
    measurable: true,
    viewable: false,
    time_to_view_ms: null,
    max_share: null,
    video: false,
    first_ms: MS,
    updated_ms: MS,
    ...over,
  };
}

/** The rows of destination `dest_id`'s impressions `ids`, by imp_id. */
const read = async (store: Store, ids: string[], dest_id = 'd1') => {
  const rows = await store.ingest((tx) =>
    tx.impressionViews(
      'env',
      ids.map((imp_id) => ({ dest_id, imp_id })),
    ),
  );
  return new Map([...rows.values()].map((v) => [v.imp_id, v]));
};

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`impression views on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('IV01 signals merge in either order: flags stay set, earliest time, largest share', async () => {
      const signals = [
        view('A', { max_share: 0.3, first_ms: MS + 5 }),
        view('A', { viewable: true, time_to_view_ms: 1400, max_share: 0.9, updated_ms: MS + 9 }),
        view('A', { viewable: true, time_to_view_ms: 1800, max_share: 0.7 }),
        view('A', { measurable: false, max_share: null }),
      ];
      // One signal per write in this order, then the reverse order, then all in one batch.
      for (const s of signals) await store.upsertImpressionViews([s]);
      for (const s of [...signals].reverse())
        await store.upsertImpressionViews([{ ...s, imp_id: 'B' }]);
      await store.upsertImpressionViews(signals.map((s) => ({ ...s, imp_id: 'C' })));
      const got = await read(store, ['A', 'B', 'C', 'missing']);
      expect([...got.keys()].sort()).toEqual(['A', 'B', 'C']);
      for (const id of ['A', 'B', 'C'])
        expect(got.get(id)).toEqual({
          ...view(id),
          viewable: true,
          time_to_view_ms: 1400,
          max_share: 0.9,
          first_ms: MS,
          updated_ms: MS + 9,
        });
    });

    it('IV02 the touch list joins each impression with its row; clicks and unmeasured have none', async () => {
      await store.insertTouches([
        touch('L1', { time: T + 1 }),
        touch('L2', { time: T + 2 }),
        touch('CL', { kind: 'click', time: T + 3 }),
      ]);
      await store.upsertImpressionViews([view('L1', { viewable: true, time_to_view_ms: 1000 })]);
      await store.upsertImpressionViews([view('CL', { viewable: true })]);
      const listed = await store.listTouches({ env_id: 'env', since_s: T + 1, limit: 10 });
      expect(listed.map((l) => l.touch.touch_id)).toEqual(['CL', 'L2', 'L1']);
      expect(listed[0].touch.view).toBeUndefined();
      expect(listed[1].touch.view).toBeUndefined();
      expect(listed[2].touch.view).toEqual({
        measurable: true,
        viewable: true,
        time_to_view_ms: 1000,
        max_share: null,
        video: false,
      });
      expect(listed[2].view_updated_ms).toBe(MS);
      const one = await store.listTouches({ env_id: 'env', imp_id: 'L1', limit: 10 });
      expect(one.map((l) => l.touch.touch_id)).toEqual(['L1']);
    });

    it('IV04 two destinations with the same impression id keep their own verdicts (review finding 9)', async () => {
      await store.insertTouches([
        touch('SAME', { time: T + 20 }),
        touch('SAME', { time: T + 21, dest_id: 'd2' }),
        touch('SAME', { time: T + 22, dest_id: 'd3' }),
      ]);
      await store.upsertImpressionViews([
        view('SAME', { viewable: true, time_to_view_ms: 1000, max_share: 1 }),
        view('SAME', { dest_id: 'd2', max_share: 0.2 }),
      ]);
      expect((await read(store, ['SAME'])).get('SAME')).toMatchObject({ viewable: true });
      expect((await read(store, ['SAME'], 'd2')).get('SAME')).toMatchObject({
        viewable: false,
        max_share: 0.2,
      });
      expect((await read(store, ['SAME'], 'd3')).size).toBe(0);
      const listed = await store.listTouches({ env_id: 'env', imp_id: 'SAME', limit: 10 });
      expect(listed.map((l) => [l.touch.dest_id, l.touch.view?.viewable])).toEqual([
        ['d3', undefined],
        ['d2', false],
        ['d1', true],
      ]);
    });

    it('IV03 the purge deletes rows as old as the touches that go', async () => {
      await store.upsertImpressionViews([view('OLD', { first_ms: MS - 200 * 86_400_000 })]);
      const report = await store.purge({
        touches_before_s: T - 100 * 86_400,
        events_before_ms: 0,
        dedup_before_s: 0,
      });
      expect(report.impression_views).toBe(1);
      expect((await read(store, ['OLD', 'A'])).has('OLD')).toBe(false);
      expect((await read(store, ['A'])).has('A')).toBe(true);
    });
  });
}
