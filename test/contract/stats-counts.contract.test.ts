import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch, TouchKind, Traffic } from '../../src/domain/event.js';
import { conversionRow } from '../helpers/conversion-row.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

/** One conversion row: a conversion has one per destination, credited or not. */
const row = (conversion_id: string, dest_id: string, attributed: number) =>
  conversionRow(conversion_id, dest_id, attributed);

let seq = 0;
const touch = (env_id: string, kind: TouchKind, traffic?: Traffic): Touch => ({
  env_id,
  kind,
  touch_id: `t${++seq}`,
  dest_id: kind === 'visit' ? null : 'd1',
  campaign_id: null,
  creative_id: null,
  placement_id: null,
  time: 1_800_000_000 + seq,
  anonymous_id: `a${seq % 7}`,
  user_id: null,
  ip: '192.0.2.1',
  user_agent: null,
  ...(traffic ? { traffic } : {}),
});
const many = (n: number, make: () => Touch) => Array.from({ length: n }, make);

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`/api/stats counts on ${kind}`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await STORE_KINDS[kind]();
    });
    afterAll(() => opened?.dispose());

    it('SC01 a conversion counts once, attributed once when any destination credited it; credits apart', async () => {
      const { store } = opened;
      await store.db
        .insertInto('conversions')
        .values([
          row('a', 'd1', 1),
          row('a', 'd2', 0),
          row('b', 'd1', 0),
          row('b', 'd2', 0),
          row('c', 'd1', 1),
          row('c', 'd2', 1),
        ])
        .execute();
      expect(await store.counts('env')).toMatchObject({
        conversions: 3,
        attributed: 2,
        platform_credits: 3,
      });
      expect(await store.counts('other')).toMatchObject({
        conversions: 0,
        attributed: 0,
        platform_credits: 0,
      });
    });
    it('SC02 touches count by kind, people apart from bots and prefetches, per environment', async () => {
      const { store } = opened;
      await store.insertTouches([
        ...many(5, () => touch('envt', 'impression')),
        ...many(3, () => touch('envt', 'click')),
        ...many(2, () => touch('envt', 'visit')),
        ...many(4, () => touch('envt', 'impression', 'bot')),
        touch('envt', 'click', 'bot'),
        touch('envt', 'click', 'prefetch'),
        touch('envt', 'visit', 'bot'),
        ...many(6, () => touch('envu', 'impression')),
      ]);
      expect(await store.counts('envt')).toMatchObject({
        touches: 8,
        impressions: 5,
        clicks: 3,
        visits: 2,
        bot_hits: 6,
        prefetch_hits: 1,
      });
      expect(await store.counts('envu')).toMatchObject({ touches: 6, impressions: 6, bot_hits: 0 });
      expect(await store.counts()).toMatchObject({ touches: 14, impressions: 11, clicks: 3 });
    });
  });
}
