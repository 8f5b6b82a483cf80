import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { STORE_KINDS } from '../helpers/stores.js';

/** Rows counted one by one on the read thread: it is busy for a while with this. */
const BUSY_READ = sql<{
  n: number;
}>`with recursive c(x) as (select 1 union all select x + 1 from c where x < 400000) select count(*) as n from c`;

let store: KyselyStore;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ store, dispose } = await STORE_KINDS.sqlite());
});

afterAll(async () => {
  await dispose?.();
});

const range = { env_id: 'env_t', from_s: 0, to_s: 2_000_000_000 };
/** Every store read that may be long, with arguments: each must run on the read thread. */
const READS: Array<[string, (s: KyselyStore) => Promise<unknown>]> = [
  ['counts', (s) => s.counts('env_t')],
  ['listConversions', (s) => s.listConversions({ env_id: 'env_t', limit: 10 })],
  ['listDeliveries', (s) => s.listDeliveries({ env_id: 'env_t', limit: 10 })],
  ['getDelivery', (s) => s.getDelivery(1)],
  ['listTouches', (s) => s.listTouches({ env_id: 'env_t', limit: 10 })],
  ['listEvents', (s) => s.listEvents({ env_id: 'env_t', limit: 10 })],
  ['eventTrail', (s) => s.eventTrail('no-such-event')],
  ['healthCounts', (s) => s.healthCounts('env_t', 0)],
  ['reportCounts', (s) => s.reportCounts({ ...range, group_by: 'campaign', view: 'platform' })],
  [
    'viewabilityCounts',
    (s) => s.viewabilityCounts({ ...range, group_by: 'campaign', view: 'platform' }),
  ],
  ['campaignCosts', (s) => s.campaignCosts('env_t')],
  ['findSubject', (s) => s.findSubject({ env_id: 'env_t', email_sha256: 'a'.repeat(64) })],
  ['listFxRates', (s) => s.listFxRates()],
  ['postbackCounts', (s) => s.postbackCounts('env_t', 0, 2e12)],
  ['unverifiedCounts', (s) => s.unverifiedCounts('env_t', 0)],
  ['listPostbacks', (s) => s.listPostbacks({ env_id: 'env_t', limit: 10 })],
  ['listConversionPaths', (s) => s.listConversionPaths('env_t', 0, 2e9)],
  ['pathTouchIds', (s) => s.pathTouchIds('env_t', 0, 2e9)],
  ['getConversionPath', (s) => s.getConversionPath('env_t', 'c1')],
  ['conversionEvents', (s) => s.conversionEvents('env_t', 0, 2e9, null, 10)],
  ['countConversionEvents', (s) => s.countConversionEvents('env_t', 0, 2e9)],
  ['estimateJourneyTouches', (s) => s.estimateJourneyTouches('env_t', 0, 2e9)],
  ['journeyTouches', (s) => s.journeyTouches('env_t', 0, 2e9, null, 10)],
  ['holdoutEntries', (s) => s.holdoutEntries('h1', 0, 2e9)],
  ['userLinks', (s) => s.userLinks('env_t', ['u1'], ['a1'])],
  [
    'liftEvents',
    (s) => s.liftEvents('env_t', ['Purchase'], 0, 2e9, { user_ids: ['u1'], anonymous_ids: [] }),
  ],
];

describe('the long reads run on the read thread (SQLite)', () => {
  it.each(READS)('RW01 %s waits behind the thread, never on the event loop', async (_, read) => {
    // The thread reads one query at a time: a read sent to it while it is busy is answered
    // after the busy read. On the main connection it would be answered at once, before it.
    const order: string[] = [];
    // And none of its statements runs on the main connection (a read of several statements
    // would still end after the busy read with only one of them on the thread).
    const main = vi.spyOn(store.db.getExecutor(), 'executeQuery');
    try {
      const busy = BUSY_READ.execute(store.readDb).then(() => order.push('busy read'));
      await read(store).then(() => order.push('read'));
      await busy;
      expect(order).toEqual(['busy read', 'read']);
      expect(main).not.toHaveBeenCalled();
    } finally {
      main.mockRestore();
    }
  });

  it('RW02 writes stay on the main connection: the thread refuses them', async () => {
    await expect(
      sql`insert into fx_rates (base, quote, day, rate, updated_at_ms) values ('USD', 'EUR', 1, 1, 0)`.execute(
        store.readDb,
      ),
    ).rejects.toThrow(/rows only/);
    await store.putFxRates([{ date: '2026-01-01', from: 'USD', to: 'EUR', rate: 0.9 }], 0);
    expect(await store.listFxRates()).toMatchObject([{ date: '2026-01-01', rate: 0.9 }]);
  });
});
