import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PURGE_BATCH_ROWS } from '../../src/store/kysely/maintenance.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { loopTurnsDuring } from '../helpers/loop-turns.js';
import { STORE_KINDS } from '../helpers/stores.js';

const NOW_S = 1_800_000_000;
const DAY_S = 86_400;
const EXPIRED = PURGE_BATCH_ROWS * 2 + PURGE_BATCH_ROWS / 2;
const KEPT = 300;

let store: KyselyStore;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ store, dispose } = await STORE_KINDS.sqlite());
  const touch = (i: number, time: number) => ({
    env_id: 'env',
    kind: 'impression',
    touch_id: `t${i}`,
    dest_id: 'd1',
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id: `a${i}`,
    user_id: null,
    ip: '203.0.113.9',
    user_agent: 'UA',
    traffic: null,
    traffic_source: null,
  });
  const rows = [
    ...Array.from({ length: EXPIRED }, (_, i) => touch(i, NOW_S - 100 * DAY_S + i)),
    ...Array.from({ length: KEPT }, (_, i) => touch(EXPIRED + i, NOW_S - i)),
  ];
  for (let at = 0; at < rows.length; at += 500)
    await store.db
      .insertInto('touches')
      .values(rows.slice(at, at + 500))
      .execute();
});

afterAll(async () => {
  await dispose?.();
});

describe('retention purge on SQLite', () => {
  it('PB01 deletes every expired touch a batch at a time, the event loop turning between batches', async () => {
    const { value: report, turns } = await loopTurnsDuring(() =>
      store.purge({ touches_before_s: NOW_S - 90 * DAY_S, events_before_ms: 0, dedup_before_s: 0 }),
    );
    expect(report.touches).toBe(EXPIRED);
    const left = await store.db.selectFrom('touches').select(['time']).execute();
    expect(left).toHaveLength(KEPT);
    expect(left.every((t) => t.time >= NOW_S - 90 * DAY_S)).toBe(true);
    // One statement for all of them would end before any turn; batches leave turns between.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(EXPIRED / PURGE_BATCH_ROWS));
  });
});
