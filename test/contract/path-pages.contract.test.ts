import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_PAGE_ROWS } from '../../src/store/kysely/conversion-paths.js';
import { watchStatements } from '../helpers/statement-turns.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

const T = 1_800_000_000;
/** Paths in the range: two full pages and a part, many sharing a second. */
const IN_RANGE = PATH_PAGE_ROWS * 2 + 3;
const id = (i: number) => `p${String(i).padStart(6, '0')}`;

const path = (conversion_id: string, event_time: number) => ({
  env_id: 'env',
  conversion_id,
  event_pk: `pk-${conversion_id}`,
  event_name: 'Purchase',
  event_time,
  value: 10,
  currency: 'EUR',
  lookback_s: 86_400,
  touches: '[]',
  created_at_ms: event_time * 1000,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(
    `conversion paths read in pages on ${kind}`,
    () => {
      let opened: Opened;
      /** Stores `rows` as they are, 500 to a statement. */
      const insertPaths = async (rows: ReadonlyArray<ReturnType<typeof path>>) => {
        for (let at = 0; at < rows.length; at += 500)
          await opened.store.db
            .insertInto('conversion_paths')
            .values(rows.slice(at, at + 500))
            .execute();
      };
      beforeAll(async () => {
        opened = await STORE_KINDS[kind]();
        const rows = [
          ...Array.from({ length: IN_RANGE }, (_, i) => path(id(i), T + Math.floor(i / 700))),
          path('before', T - 1),
          path('at-the-end', T + 1_000),
        ];
        await insertPaths(rows);
      });
      afterAll(() => opened?.dispose());

      it('CP01 every path of the range once, in time order, a page a read, the event loop turning between pages', async () => {
        const { store } = opened;
        const { value: paths, sent } = await watchStatements(store.readDb, () =>
          store.listConversionPaths('env', T, T + 1_000),
        );
        expect(paths.map((p) => p.conversion_id)).toEqual(
          Array.from({ length: IN_RANGE }, (_, i) => id(i)),
        );
        const reads = sent.filter((s) => /from "conversion_paths"/.test(s.sql));
        expect(reads).toHaveLength(Math.ceil(IN_RANGE / PATH_PAGE_ROWS));
        for (let i = 1; i < reads.length; i++)
          expect(reads[i]?.turn ?? 0).toBeGreaterThan(reads[i - 1]?.turn ?? 0);
      });

      it('CP02 a path comes back from the pages as it was stored: money, no money, touches with any text', async () => {
        const { store } = opened;
        const touches = [
          {
            kind: 'visit',
            touch_id: 'v-1',
            time: T - 50,
            campaign_id: null,
            traffic_source: {
              source: 'n\u00e9wsletter \u2603 "q" \\ \u0001',
              medium: 'email',
              by: 'utm',
            },
            match: 'anonymous_id',
          },
          {
            kind: 'click',
            touch_id: 'c-1',
            time: T - 10,
            campaign_id: 'c\u00fc',
            dest_id: 'meta',
            value: 1.5e-7,
          },
        ];
        const rows = [
          {
            ...path('a', T),
            env_id: 'env2',
            value: 0.30000000000000004,
            touches: JSON.stringify(touches),
          },
          {
            ...path('b', T),
            env_id: 'env2',
            value: null,
            currency: null,
            created_at_ms: 1_796_641_518_794,
          },
          {
            ...path('c', T + 5),
            env_id: 'env2',
            value: 12_345_678.9,
            event_name: 'Lead',
            lookback_s: 7,
          },
        ];
        await opened.store.db.insertInto('conversion_paths').values(rows).execute();
        const read = await store.listConversionPaths('env2', T, T + 10);
        expect(read).toEqual(rows.map((r) => ({ ...r, touches: JSON.parse(r.touches) })));
        for (const p of read)
          expect(p).toEqual(await store.getConversionPath('env2', p.conversion_id));
      });

      it('CP03 paths dated before 1970 are read in pages too (no zero-padded cursor for them)', async () => {
        const { store } = opened;
        const old = Array.from({ length: PATH_PAGE_ROWS + 3 }, (_, i) => ({
          ...path(`o${String(i).padStart(6, '0')}`, -5_000 + Math.floor(i / 700)),
          env_id: 'env3',
        }));
        await insertPaths(old);
        const read = await store.listConversionPaths('env3', -10_000, 0);
        expect(read.map((p) => p.conversion_id)).toEqual(old.map((p) => p.conversion_id));
      });

      it.skipIf(kind !== 'sqlite')(
        'CP04 paths stored with fractional times (by another tool) are read in pages too',
        async () => {
          const { store } = opened;
          // SQLite keeps 1.5 in an integer column as a real; a zero-padded cursor would cut it.
          const frac = Array.from({ length: PATH_PAGE_ROWS + 3 }, (_, i) => ({
            ...path(`f${String(i).padStart(6, '0')}`, T + i / 10_000),
            env_id: 'env4',
          }));
          await insertPaths(frac);
          const read = await store.listConversionPaths('env4', T, T + 1);
          expect(read.map((p) => p.conversion_id)).toEqual(frac.map((p) => p.conversion_id));
        },
      );

      it("CP05 the touch ids of the range's paths, each once: none of another range or environment", async () => {
        const { store } = opened;
        const touches = (...ids: string[]) =>
          JSON.stringify(ids.map((touch_id, i) => ({ kind: 'click', touch_id, time: T - i })));
        await insertPaths([
          { ...path('t1', T), env_id: 'env5', touches: touches('a', 'b') },
          // Shared with t1, and a touch id of any text.
          { ...path('t2', T + 9), env_id: 'env5', touches: touches('b', 'c \u00e9 "q" \\') },
          { ...path('t3', T + 5), env_id: 'env5', touches: '[]' },
          { ...path('before', T - 1), env_id: 'env5', touches: touches('old') },
          { ...path('at-the-end', T + 10), env_id: 'env5', touches: touches('late') },
          { ...path('other', T), env_id: 'env6', touches: touches('theirs') },
        ]);
        const ids = await store.pathTouchIds('env5', T, T + 10);
        expect([...ids].sort()).toEqual(['a', 'b', 'c \u00e9 "q" \\']);
        expect(await store.pathTouchIds('env5', T + 20, T + 30)).toEqual([]);
      });
    },
  );
}
