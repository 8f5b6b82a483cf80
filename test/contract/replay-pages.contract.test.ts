import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAY_PAGE_ROWS } from '../../src/store/kysely/outbox.js';
import { conversionRow } from '../helpers/conversion-row.js';
import { watchStatements } from '../helpers/statement-turns.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

const MS = 1_800_000_000_000;
/** The replay's clock: after every conversion of the range. */
const NOW = MS + 20_000;
/** Credited conversions in the range: two full pages and a part. */
const IN_RANGE = REPLAY_PAGE_ROWS * 2 + 7;

const row = (conversion_id: string, dest_id: string, attributed: number, created_at_ms: number) =>
  conversionRow(conversion_id, dest_id, attributed, {
    created_at_ms,
    event_time: Math.floor(created_at_ms / 1000),
    value: 10,
    currency: 'EUR',
    dedup_row: 1,
  });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`replay of a range on ${kind}`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await STORE_KINDS[kind]();
      const rows = [
        // Many at the same millisecond: pages must not lose or repeat one at their edge.
        ...Array.from({ length: IN_RANGE }, (_, i) =>
          row(`c${String(i).padStart(5, '0')}`, 'd1', 1, MS + Math.floor(i / 300)),
        ),
        row('not-credited', 'd1', 0, MS),
        row('other-dest', 'd2', 1, MS),
        row('before', 'd1', 1, MS - 1),
        row('at-the-end', 'd1', 1, MS + 10_000),
      ];
      for (let at = 0; at < rows.length; at += 200)
        await opened.store.db
          .insertInto('conversions')
          .values(rows.slice(at, at + 200))
          .execute();
    });
    afterAll(() => opened?.dispose());

    it('RP01 queues every credited conversion of the range once, a page a statement, the event loop turning between pages', async () => {
      const { store } = opened;
      const { value: queued, sent } = await watchStatements(store.db, () =>
        store.requeueRange('env', 'd1', MS, MS + 10_000, NOW),
      );
      expect(queued).toBe(IN_RANGE);
      const rows = await store.db
        .selectFrom('outbox')
        .select(['conversion_id', 'status'])
        .where('dest_id', '=', 'd1')
        .orderBy('conversion_id')
        .execute();
      expect(rows.map((r) => r.conversion_id)).toEqual(
        Array.from({ length: IN_RANGE }, (_, i) => `c${String(i).padStart(5, '0')}`),
      );
      expect(rows.every((r) => r.status === 'pending')).toBe(true);
      const inserts = sent.filter((s) => /^\s*insert into "outbox"/i.test(s.sql));
      expect(inserts).toHaveLength(Math.ceil(IN_RANGE / REPLAY_PAGE_ROWS));
      expect(Math.max(...inserts.map((s) => s.rows))).toBeLessThanOrEqual(REPLAY_PAGE_ROWS);
      for (let i = 1; i < inserts.length; i++)
        expect(inserts[i]?.turn ?? 0).toBeGreaterThan(inserts[i - 1]?.turn ?? 0);
    });

    it('RP02 a second replay queues the same rows again: sent ones start over as pending', async () => {
      const { store } = opened;
      await store.db
        .updateTable('outbox')
        .set({ status: 'delivered', attempts: 1 })
        .where('conversion_id', '=', 'c00000')
        .execute();
      expect(await store.requeueRange('env', 'd1', MS, MS + 10_000, NOW + 5)).toBe(IN_RANGE);
      const again = await store.db
        .selectFrom('outbox')
        .select(['status', 'attempts', 'next_attempt_at_ms'])
        .where('conversion_id', '=', 'c00000')
        .executeTakeFirstOrThrow();
      expect(again).toMatchObject({ status: 'pending', attempts: 0 });
      expect(Number(again.next_attempt_at_ms)).toBe(NOW + 5);
      const n = await store.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(IN_RANGE);
    });

    it('RP03 a range that ends in the future is replayed up to now only', async () => {
      const { store } = opened;
      // "now" a moment after the range's first conversions: later ones are not queued.
      const n = await store.requeueRange('env', 'd1', MS, MS + 10_000, MS);
      expect(n).toBe(300);
    });
  });
}
