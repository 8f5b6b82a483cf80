import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import type { Store, TouchCursor } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// The touches the data-driven model reads for non-converting journeys (issue 23 §2), on
// SQLite and PostgreSQL alike: human touches of a range, in (time, id) pages.

const hasPostgres = await postgresAvailable();
const T = Math.floor(Date.now() / 1000) - 3600;

const touch = (i: number, over: Partial<Touch> = {}): Touch => ({
  env_id: 'env_j',
  kind: 'impression',
  touch_id: `j${i}`,
  dest_id: null,
  campaign_id: `c${i % 3}`,
  creative_id: null,
  placement_id: null,
  // Several touches share each second: the pages must split ties by id, not skip them.
  time: T + Math.floor(i / 4),
  anonymous_id: `p${i % 5}`,
  user_id: null,
  ip: null,
  user_agent: null,
  ...over,
});

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Journey touches on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
      await store.insertTouches([
        ...Array.from({ length: 23 }, (_, i) => touch(i)),
        touch(100, { traffic: 'bot' }),
        touch(101, { env_id: 'env_other' }),
        touch(102, { time: T - 100 }),
      ]);
    });
    afterAll(async () => dispose?.());

    it('JT01 every human touch of the range once, in time order, over pages split inside a second', async () => {
      // The day counts include the touch before the range when it falls on the range's days:
      // an estimate, prorated by the part of each day in the range.
      const day = Math.floor(T / 86_400) * 86_400;
      const estimate = await store.estimateJourneyTouches('env_j', day, day + 2 * 86_400);
      expect(estimate).toBeGreaterThanOrEqual(23);
      expect(estimate).toBeLessThanOrEqual(25);
      const seen: string[] = [];
      let after: TouchCursor | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<Store['journeyTouches']>> = await store.journeyTouches(
          'env_j',
          T,
          T + 3600,
          after,
          5,
        );
        seen.push(...page.touches.map((t) => t.touch_id));
        after = page.next;
        pages++;
      } while (after);
      expect(pages).toBe(5);
      // Stored in this order: time, then id, as journeys are built.
      expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `j${i}`));
    });

    it('JT03 a touch is read with what names its person: the address and user agent only without ids', async () => {
      const day = (Math.floor(T / 86_400) - 5) * 86_400;
      const ua = 'Mozilla/5.0 (X11; Linux x86_64)';
      await store.insertTouches([
        touch(300, { env_id: 'env_jd', time: day + 1, ip: '10.0.0.1', user_agent: ua }),
        touch(301, {
          env_id: 'env_jd',
          time: day + 2,
          anonymous_id: null,
          user_id: 'u1',
          ip: '10.0.0.2',
          user_agent: ua,
        }),
        touch(302, {
          env_id: 'env_jd',
          time: day + 3,
          anonymous_id: null,
          ip: '10.0.0.3',
          user_agent: ua,
          traffic_source: { source: 'google', medium: 'cpc', by: 'utm' },
        }),
      ]);
      const { touches } = await store.journeyTouches('env_jd', day, day + 10, null, 10);
      expect(touches).toEqual([
        {
          kind: 'impression',
          touch_id: 'j300',
          dest_id: null,
          campaign_id: 'c0',
          time: day + 1,
          anonymous_id: 'p0',
          user_id: null,
          ip: null,
          user_agent: null,
        },
        expect.objectContaining({ touch_id: 'j301', user_id: 'u1', ip: null, user_agent: null }),
        expect.objectContaining({
          touch_id: 'j302',
          anonymous_id: null,
          user_id: null,
          ip: '10.0.0.3',
          user_agent: ua,
          traffic_source: { source: 'google', medium: 'cpc', by: 'utm' },
        }),
      ]);
    });

    it('JT02 the estimate the sample share is taken from counts human touches only, as the pages read', async () => {
      // A crawler's 3 touches to each human one: counted in, the share of the range read
      // was a quarter of the truth and every sampled journey weighed 4 times too little.
      const day = (Math.floor(T / 86_400) - 3) * 86_400;
      const at = (i: number, over: Partial<Touch> = {}) =>
        touch(1000 + i, { env_id: 'env_jb', time: day + 3600 + i, ...over });
      await store.insertTouches([
        ...Array.from({ length: 10 }, (_, i) => at(i)),
        ...Array.from({ length: 25 }, (_, i) => at(100 + i, { traffic: 'bot' })),
        ...Array.from({ length: 5 }, (_, i) => at(200 + i, { traffic: 'prefetch' })),
      ]);
      expect(await store.estimateJourneyTouches('env_jb', day, day + 86_400)).toBe(10);
      // Prorated by the part of the day in the range, bots subtracted where they are.
      expect(await store.estimateJourneyTouches('env_jb', day, day + 43_200)).toBe(5);
      const page = await store.journeyTouches('env_jb', day, day + 86_400, null, 100);
      expect(page.touches).toHaveLength(10);
    });
  });
}
