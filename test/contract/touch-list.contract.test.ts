import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';
import { numberedTouch } from '../helpers/touch.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

const T = 1_800_000_000;
const touch = numberedTouch;

// The debugger's list of touches: the newest of an environment, optionally by kind, campaign,
// time or a touch id. Three environments' touches are interleaved in time; one stopped long ago.
// Bots and prefetches are listed too, among the people's touches: the list reads the two apart
// (touch-list.ts) and merges them.
for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`the newest touches on ${kind}`, () => {
    let opened: Opened;
    const all: Touch[] = [];
    beforeAll(async () => {
      opened = await STORE_KINDS[kind]();
      for (let i = 0; i < 600; i++) {
        // Several touches a second, so the order within a second is the row's.
        const traffic = i % 7 === 3 ? 'bot' : i % 11 === 5 ? 'prefetch' : undefined;
        all.push(
          touch('busy', i, T + Math.floor(i / 3), i % 5 === 0 ? 'click' : 'impression', traffic),
        );
        if (i % 4 === 0) all.push(touch('small', i, T + Math.floor(i / 3)));
        if (i < 20) all.push(touch('stopped', i, T - 86_400 + i));
      }
      await opened.store.insertTouches(all);
    });
    afterAll(() => opened?.dispose());

    it('TL01 each environment’s own newest touches, newest first, under every filter', async () => {
      const { store } = opened;
      // Rows were inserted in time order, so a later row is newer within a second too.
      const newest = (env: string, keep: (t: Touch) => boolean, limit: number) =>
        all
          .map((t, i) => ({ t, i }))
          .filter(({ t }) => t.env_id === env && keep(t))
          .sort((a, b) => b.t.time - a.t.time || b.i - a.i)
          .slice(0, limit)
          .map(({ t }) => t.touch_id);
      const cases: Array<[string, Record<string, unknown>, (t: Touch) => boolean]> = [
        ['busy', {}, () => true],
        ['busy', { limit: 3 }, () => true],
        ['busy', { since_s: T + 199 }, (t) => t.time >= T + 199],
        ['small', {}, () => true],
        ['stopped', {}, () => true],
        ['busy', { kind: 'click' }, (t) => t.kind === 'click'],
        ['busy', { kind: 'impression' }, (t) => t.kind === 'impression'],
        ['small', { campaign_id: 'odd' }, (t) => t.campaign_id === 'odd'],
        ['busy', { since_s: T + 150 }, (t) => t.time >= T + 150],
        ['busy', { imp_id: 'busy-7' }, (t) => t.touch_id === 'busy-7'],
        ['busy', { click_id: 'busy-10' }, (t) => t.touch_id === 'busy-10'],
        ['small', { imp_id: 'busy-7' }, () => false],
      ];
      for (const [env_id, filter, keep] of cases) {
        const limit = Number(filter.limit ?? 50);
        const listed = await store.listTouches({ env_id, limit, ...filter });
        expect(
          listed.map((l) => l.touch.touch_id),
          `${env_id} ${JSON.stringify(filter)}`,
        ).toEqual(newest(env_id, keep, limit));
      }
    });
  });
}
