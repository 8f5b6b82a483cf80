import { type Compilable, CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import { touchKindCounts } from '../../src/store/kysely/debug-queries.js';
import { journeyPageQuery } from '../../src/store/kysely/journeys.js';
import { touchListReads } from '../../src/store/kysely/touch-list.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';
import { numberedTouch } from '../helpers/touch.js';

// An environment's touches in time order (issue 22, twentieth round): SQLite reads the human
// ones along touches_human_by_env_time (0043) and the rest along touches_not_human_by_time
// (0032), so a small environment's journeys, its debugger list and its health page read its
// own touches of the window, not every touch of the store or of the environment.

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

const T = 1_800_000_000;
const touch = numberedTouch;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(
    `an environment's touches on ${kind}`,
    () => {
      let opened: Opened;
      const all: Touch[] = [];
      beforeAll(async () => {
        opened = await STORE_KINDS[kind]();
        const kinds = ['impression', 'click', 'visit'] as const;
        for (let i = 0; i < 300; i++) {
          const traffic = i % 6 === 1 ? 'bot' : i % 9 === 4 ? 'prefetch' : undefined;
          all.push(touch('env', i, T + i, kinds[i % 3] as Touch['kind'], traffic));
          if (i % 10 === 0)
            all.push(touch('other', i, T + 1000 + i, kinds[i % 3] as Touch['kind']));
        }
        // The newest visit is a bot's, the newest ad touch a person's.
        all.push(touch('env', 900, T + 500, 'visit', 'bot'));
        all.push(touch('env', 901, T + 499, 'impression'));
        await opened.store.insertTouches(all);
      });
      afterAll(() => opened?.dispose());

      it('ET01 counts ad touches and visits of the window, people’s and bots’ alike, and the newest of each', async () => {
        for (const since_s of [T, T + 150, T + 299, T + 600]) {
          const c = await opened.store.healthCounts('env', since_s * 1000);
          const mine = all.filter((t) => t.env_id === 'env' && t.time >= since_s);
          const expected = (visit: boolean) => {
            const of = mine.filter((t) => (t.kind === 'visit') === visit);
            const last = Math.max(...of.map((t) => t.time));
            return { count: of.length, last_ms: of.length === 0 ? null : last * 1000 };
          };
          expect(c.touches, `since ${since_s - T}`).toEqual(expected(false));
          expect(c.visits, `since ${since_s - T}`).toEqual(expected(true));
        }
      });

      it('ET05 a touch said to be a person’s is read as a person’s: in journeys, in the list', async () => {
        const { store } = opened;
        await store.insertTouches([touch('said', 1, T + 10, 'impression', 'human')]);
        const page = await store.journeyTouches('said', T, T + 100, null, 10);
        expect(page.touches.map((t) => t.touch_id)).toEqual(['said-1']);
        const listed = await store.listTouches({ env_id: 'said', limit: 10 });
        expect(listed.map((l) => [l.touch.touch_id, l.touch.traffic ?? null])).toEqual([
          ['said-1', null],
        ]);
      });
    },
  );
}

describe('SQLite’s plans for an environment’s touches in time order', () => {
  let opened: Opened;
  beforeAll(async () => {
    opened = await STORE_KINDS.sqlite();
  });
  afterAll(() => opened?.dispose());

  /** The plan's steps that read touches. */
  const touchSteps = async (q: Compilable) => {
    const { sql, parameters } = q.compile();
    const plan = await opened.store.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]),
    );
    return plan.rows.map((r) => r.detail);
  };

  it('ET02 the journeys’ pages read the environment’s human touches of the range in page order', async () => {
    const db = opened.store.db;
    for (const after of [null, { time: T + 5, id: 17 }]) {
      const steps = await touchSteps(
        journeyPageQuery(db, 'sqlite', 'env', T, T + 86_400, after, 2500),
      );
      const reads = steps.filter((d) => /^(SEARCH|SCAN) touches\b/.test(d));
      expect(reads, JSON.stringify(after)).toEqual([
        expect.stringMatching(
          /USING INDEX touches_human_by_env_time \(env_id=\? AND time>\? AND time<\?\)/,
        ),
      ]);
      expect(steps.some((d) => /TEMP B-TREE FOR ORDER BY/.test(d))).toBe(false);
    }
  });

  it('ET03 the debugger’s list reads each part newest first along its own index, under every filter', async () => {
    const db = opened.store.db;
    const filters = [
      {},
      { kind: 'click' as const },
      { kind: 'impression' as const },
      { kind: 'visit' as const },
      { campaign_id: 'odd' },
      { since_s: T },
    ];
    for (const filter of filters) {
      const reads = touchListReads(db, 'sqlite', { env_id: 'env', limit: 50, ...filter });
      expect(reads).toHaveLength(2);
      const plans = await Promise.all(reads.map(touchSteps));
      expect(plans, JSON.stringify(filter)).toEqual([
        [
          expect.stringMatching(
            /^SEARCH touches USING INDEX touches_human_by_env_time \(env_id=\?/,
          ),
        ],
        [
          expect.stringMatching(
            /^SEARCH touches USING INDEX touches_not_human_by_time \(env_id=\?/,
          ),
        ],
      ]);
    }
  });

  it('ET04 the health page reads the window of each part along its own index', async () => {
    for (const human of [true, false]) {
      const steps = await touchSteps(touchKindCounts(opened.store.db, 'env', T, human));
      const reads = steps.filter((d) => /^(SEARCH|SCAN) touches\b/.test(d));
      expect(reads, String(human)).toEqual([
        expect.stringMatching(
          /USING INDEX touches_(human_by_env_time|not_human_by_time) \(env_id=\? AND time>\?\)/,
        ),
      ]);
    }
  });
});
