import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackedEvent } from '../../src/domain/event.js';
import { eventToRow } from '../../src/store/kysely/row-mappers.js';
import { conversionRow } from '../helpers/conversion-row.js';
import { watchStatements } from '../helpers/statement-turns.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// A claim round of hundreds of deliveries (after a replay or an import queued thousands)
// reads their conversions and events set-wise: on SQLite every read holds the event loop,
// so the reads go a piece at a time with a turn between them.

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

const MS = 1_800_000_000_000;
const QUEUED = 450;
const event = (i: number) =>
  ({
    env_id: 'env',
    event_name: 'Purchase',
    event_id: `c${i}`,
    event_time: MS / 1000,
    source: 'server',
    user: { anonymous_id: `a${i}` },
    properties: { value: 1, currency: 'EUR' },
    consent: { ads: true, analytics: true },
    warnings: [],
  }) as unknown as TrackedEvent;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`a large claim round on ${kind}`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await STORE_KINDS[kind]();
      const { db } = opened.store;
      for (let at = 0; at < QUEUED; at += 150) {
        const ids = Array.from({ length: Math.min(150, QUEUED - at) }, (_, j) => at + j);
        await db
          .insertInto('events')
          .values(ids.map((i) => eventToRow(`pk-c${i}`, event(i), MS)))
          .execute();
        await db
          .insertInto('conversions')
          .values(ids.map((i) => conversionRow(`c${i}`, 'd1', 1, { created_at_ms: MS })))
          .execute();
      }
      await opened.store.ingest(async (tx) => {
        for (let i = 0; i < QUEUED; i++) await tx.enqueueDelivery('env', `c${i}`, 'd1', MS);
      });
    });
    afterAll(() => opened?.dispose());

    it('CL01 every claimed delivery comes with its conversion and event, read a piece at a time between turns', async () => {
      const { store } = opened;
      const { value: claimed, sent } = await watchStatements(store.db, () =>
        store.claimDeliveries(MS, 500, 60_000, 'w', new Set()),
      );
      expect(claimed).toHaveLength(QUEUED);
      for (const d of claimed) {
        expect(d.conversion.conversion_id).toBe(d.outbox.conversion_id);
        expect(d.event.event_id).toBe(d.conversion.conversion_id);
      }
      const loads = sent.filter((s) => /^select \* from "(conversions|events)"/.test(s.sql));
      expect(loads).toHaveLength(2 * Math.ceil(QUEUED / 200));
      for (let i = 1; i < loads.length; i++)
        expect(loads[i]?.turn ?? 0).toBeGreaterThan(loads[i - 1]?.turn ?? 0);
    });
  });
}
