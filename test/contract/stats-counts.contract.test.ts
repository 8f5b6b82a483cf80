import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversionRow } from '../helpers/conversion-row.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

/** One conversion row: a conversion has one per destination, credited or not. */
const row = (conversion_id: string, dest_id: string, attributed: number) =>
  conversionRow(conversion_id, dest_id, attributed);

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
  });
}
