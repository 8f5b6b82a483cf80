import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { recomputePaths } from '../../src/reports/recompute-paths.js';
import { seedDemo, seededRandom } from '../../src/seed/demo-seed.js';
import { newId } from '../../src/server.js';
import type { ConversionPathRecord } from '../../src/store/store.js';
import { tempDir, testConfig } from '../helpers/pixeltrail.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// `pixeltrail attribution recompute` rebuilds paths many at a time (on PostgreSQL in one
// set-wise read a page). With the same rules and touches it must give back, for every
// conversion, the path its ingest stored.

const NOW_MS = Date.parse('2026-11-29T12:00:00Z');
const hasPostgres = await postgresAvailable();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`attribution recompute (${kind})`, () => {
    it('RP01 with unchanged rules every rebuilt path is the one stored at ingest', async () => {
      const open = STORE_KINDS[kind];
      if (!open) throw new Error(`no ${kind} store`);
      const { store, dispose } = await open();
      onTestFinished(dispose);
      const { config } = parseConfig(testConfig('http://127.0.0.1:9/hook'), {
        data_dir: tempDir(),
      });
      const env = config.environments[0];
      if (!env) throw new Error('no environment');
      await seedDemo(store, {
        env,
        touches: 3000,
        conversions: 450,
        days: 30,
        nowMs: NOW_MS,
        random: seededRandom(7),
        newId,
      });
      const from = NOW_MS / 1000 - 31 * 86_400;
      const to = NOW_MS / 1000 + 86_400;
      const paths = async () => {
        const out = new Map<string, Omit<ConversionPathRecord, 'created_at_ms'>>();
        for (const { conversion_id } of await store.conversionEvents(
          env.id,
          from,
          to,
          null,
          1000,
        )) {
          const p = await store.getConversionPath(env.id, conversion_id);
          if (!p) throw new Error(`no path for ${conversion_id}`);
          const { created_at_ms: _, ...rest } = p;
          out.set(conversion_id, rest);
        }
        return out;
      };
      const before = await paths();
      expect(before.size).toBe(450);
      // Most buyers have touches of their own in their path.
      const withTouches = [...before.values()].filter((p) => p.touches.length > 0).length;
      expect(withTouches).toBeGreaterThan(200);

      expect(await recomputePaths(store, env, from, to, () => NOW_MS + 1)).toBe(450);
      expect(await paths()).toEqual(before);
    });
  });
}
