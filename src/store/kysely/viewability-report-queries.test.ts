import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../../../test/helpers/stores.js';
import { VIEWABILITY_GROUPS } from '../../domain/viewability-report.js';
import type { KyselyStore } from '../kysely-store.js';
import { servedImpressions } from './viewability-report-queries.js';

// The viewability report counts the range's impressions. Along the environment's
// (env_id, touch_id) index SQLite read every touch of the environment in id order, random
// against the time order rows are stored in: 2.9-3.4 s on the demo's 1,000,000 touches, 0.65 s
// along the time index, which read other environments' touches of the range too. The
// (env_id, time) index (0043) reads the environment's range alone.

describe('the viewability report’s read of impressions (SQLite’s plan)', () => {
  let store: KyselyStore;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await STORE_KINDS.sqlite());
  });
  afterAll(() => dispose());

  it('VRP01 reads the environment’s range along its (env_id, time) index, for every grouping and filter', async () => {
    for (const group_by of VIEWABILITY_GROUPS) {
      for (const filter of [{}, { dest_id: 'dsp1' }, { campaign_id: 'c1' }]) {
        const q = {
          env_id: 'env',
          from_s: 1_700_000_000,
          to_s: 1_702_592_000,
          group_by,
          view: 'platform' as const,
          ...filter,
        };
        const { sql, parameters } = servedImpressions(q).compile(store.db);
        const plan = await store.db.executeQuery<{ detail: string }>(
          CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]),
        );
        const touches = plan.rows.map((r) => r.detail).filter((d) => /^(SEARCH|SCAN) t\b/.test(d));
        expect(touches, `${group_by} ${JSON.stringify(filter)}`).toEqual([
          expect.stringMatching(
            /USING INDEX touches_human_by_env_time \(env_id=\? AND time>\? AND time<\?\)/,
          ),
        ]);
      }
    }
  });
});
