import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { Touch } from '../../src/domain/event.js';
import { protectIp } from '../../src/domain/ip-privacy.js';
import { recomputePaths } from '../../src/reports/recompute-paths.js';
import { seedDemo, seededRandom, USER_AGENTS } from '../../src/seed/demo-seed.js';
import { newId } from '../../src/server.js';
import type { ConversionPathRecord, IngestTx } from '../../src/store/store.js';
import { tempDir, testConfig } from '../helpers/pixeltrail.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// `pixeltrail attribution recompute` rebuilds paths many at a time (on PostgreSQL in one
// set-wise read a page). With the same rules and touches it must give back, for every
// conversion, the path its ingest stored.

const NOW_MS = Date.parse('2026-11-29T12:00:00Z');
const hasPostgres = await postgresAvailable();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`attribution recompute (${kind})`, () => {
    it('RC07 with unchanged rules every rebuilt path is the one stored at ingest, read either way', async () => {
      const open = STORE_KINDS[kind];
      if (!open) throw new Error(`no ${kind} store`);
      const { store, dispose } = await open();
      onTestFinished(dispose);
      const { config } = parseConfig(testConfig('http://127.0.0.1:9/hook'), {
        data_dir: tempDir(),
      });
      const env = config.environments[0];
      if (!env) throw new Error('no environment');
      // Beside the demo's people, touches that only an address and browser tie to a buyer: a click a day
      // and a few visits, without a cookie, at the address of each buyer who follows no touch
      // of their own (the demo gives the 30 % who do not, person 600 + j, an address of their
      // own; 3,000 touches make 600 people).
      const ipOf = (p: number) => `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`;
      const nowS = NOW_MS / 1000;
      const extra: Touch[] = [];
      for (let j = 0; j < 450; j++) {
        for (let day = 0; day <= 31; day++) {
          const kind = day % 8 === 3 ? 'visit' : 'click';
          extra.push({
            env_id: env.id,
            kind,
            touch_id: `ip-${kind}-${j}-${day}`,
            dest_id: kind === 'click' ? 'dsp1' : null,
            campaign_id: kind === 'click' ? 'ip-only' : null,
            creative_id: null,
            placement_id: null,
            time: nowS - day * 86_400 - ((j * 7919) % 86_400),
            anonymous_id: null,
            user_id: null,
            ip: protectIp(ipOf(600 + j), env.ip_storage, env.ip_secret),
            user_agent: USER_AGENTS[(600 + j) % USER_AGENTS.length] ?? null,
          });
        }
      }
      await store.insertTouches(extra);
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

      // Matched by the address alone, in some paths.
      const byIp = [...before.values()].filter((p) =>
        p.touches.some((t) => t.touch_id.startsWith('ip-')),
      ).length;
      expect(byIp).toBeGreaterThan(0);

      // Every path emptied first, so that a recompute writing nothing cannot pass.
      const wipe = async () => {
        for (const p of before.values())
          await store.ingest((tx) => tx.putConversionPath({ ...p, touches: [], created_at_ms: 0 }));
      };
      await wipe();
      expect(await recomputePaths(store, env, from, to, () => NOW_MS + 1)).toBe(450);
      expect(await paths()).toEqual(before);
      // And read one lookup at a time (PostgreSQL's set-wise read hidden): the same paths.
      await wipe();
      const oneByOne = new Proxy(store, {
        get(target, key, receiver) {
          if (key !== 'ingest') return Reflect.get(target, key, receiver);
          return <T>(fn: (tx: IngestTx) => Promise<T>) =>
            target.ingest((tx) =>
              fn(
                new Proxy(tx, {
                  get: (t, k) => (k === 'setWise' ? undefined : Reflect.get(t, k)),
                }),
              ),
            );
        },
      });
      expect(await recomputePaths(oneByOne, env, from, to, () => NOW_MS + 1)).toBe(450);
      expect(await paths()).toEqual(before);
    });
  });
}
