import { createHash } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { protectIp } from '../../src/domain/ip-privacy.js';
import { processBatch } from '../../src/ingest/ingest-pipeline.js';
import { recomputePaths } from '../../src/reports/recompute-paths.js';
import { seedDemo, seededRandom, USER_AGENTS } from '../../src/seed/demo-seed.js';
import { newId } from '../../src/server.js';
import type { ConversionPathRecord, IngestTx, Store } from '../../src/store/store.js';
import { tempDir, testConfig } from '../helpers/pixeltrail.js';
import { serverEvent } from '../helpers/server-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';
import { browserClick } from '../helpers/touch.js';

// `pixeltrail attribution recompute` rebuilds paths many at a time (on PostgreSQL in one
// set-wise read a page). With the same rules and touches it must give back, for every
// conversion, the path its ingest stored.

const NOW_MS = Date.parse('2026-11-29T12:00:00Z');
const hasPostgres = await postgresAvailable();

type StoredPath = Omit<ConversionPathRecord, 'created_at_ms'>;

/** The stored path of every conversion of [from, to), by conversion id. */
async function storedPaths(store: Store, env_id: string, from: number, to: number) {
  const out = new Map<string, StoredPath>();
  for (const { conversion_id } of await store.conversionEvents(env_id, from, to, null, 1000)) {
    const p = await store.getConversionPath(env_id, conversion_id);
    if (!p) throw new Error(`no path for ${conversion_id}`);
    const { created_at_ms: _, ...rest } = p;
    out.set(conversion_id, rest);
  }
  return out;
}

/** Every path emptied, so that a recompute writing nothing cannot pass. */
async function wipe(store: Store, paths: Map<string, StoredPath>) {
  for (const p of paths.values())
    await store.ingest((tx) => tx.putConversionPath({ ...p, touches: [], created_at_ms: 0 }));
}

/** `store` with each ingest transaction's `tx` seen through `view`. */
function txSeen(store: Store, view: (tx: IngestTx) => IngestTx): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'ingest') return Reflect.get(target, key, receiver);
      return <T>(fn: (tx: IngestTx) => Promise<T>) => target.ingest((tx) => fn(view(tx)));
    },
  });
}

/** `store` read one lookup at a time: PostgreSQL's set-wise reads hidden. */
const oneByOne = (store: Store) =>
  txSeen(
    store,
    (tx) => new Proxy(tx, { get: (t, k) => (k === 'setWise' ? undefined : Reflect.get(t, k)) }),
  );

/** A fresh store of `kind` (closed when the test ends) and the test config's environment. */
async function opened(kind: string) {
  const open = STORE_KINDS[kind];
  if (!open) throw new Error(`no ${kind} store`);
  const { store, dispose } = await open();
  onTestFinished(dispose);
  const { config } = parseConfig(testConfig('http://127.0.0.1:9/hook'), { data_dir: tempDir() });
  const env = config.environments[0];
  if (!env) throw new Error('no environment');
  return { store, env };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`attribution recompute (${kind})`, () => {
    it('RC07 with unchanged rules every rebuilt path is the one stored at ingest, read either way', async () => {
      const { store, env } = await opened(kind);
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
      const paths = () => storedPaths(store, env.id, from, to);
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

      await wipe(store, before);
      expect(await recomputePaths(store, env, from, to, () => NOW_MS + 1)).toBe(450);
      expect(await paths()).toEqual(before);
      // And read one lookup at a time (PostgreSQL's set-wise read hidden): the same paths.
      await wipe(store, before);
      expect(await recomputePaths(oneByOne(store), env, from, to, () => NOW_MS + 1)).toBe(450);
      expect(await paths()).toEqual(before);
    });

    it('RC08 paths found through linked ids (user id, e-mail, both) are rebuilt as stored, the links read once a page where reads are set-wise', async () => {
      const { store, env } = await opened(kind);
      const nowS = NOW_MS / 1000;
      // 300 people (two recompute pages): a click under their browser id, then a page view
      // that joins the browser to their user id, their e-mail or both, then a Purchase that
      // carries only those (every fourth: only the browser id). Every fifth also clicked from
      // a second browser, joined by e-mail. Each clicked from a third browser too, joined to
      // the same keys in another environment only: never theirs here. And one person with
      // more linked browsers than a read keeps (MAX_TOUCHES_PER_LOOKUP, 200).
      const PEOPLE = 300;
      const CAPPED = 210;
      const other = { ...env, id: 'env_lk_other' };
      const keysOf = (p: number) => ({
        ...(p % 3 !== 2 ? { user_id: `lk-u${p}` } : {}),
        ...(p % 3 !== 0
          ? { email_sha256: createHash('sha256').update(`p${p}@x`).digest('hex') }
          : {}),
      });
      const browsers = (p: number) => (p % 5 === 0 ? [`lk-a${p}`, `lk-b${p}`] : [`lk-a${p}`]);
      const event = (
        name: string,
        id: string,
        time: number,
        user: TrackedEvent['user'],
        env_id = env.id,
      ) => serverEvent(env_id, name, id, time, user);
      const touches: Touch[] = [];
      const views: TrackedEvent[] = [];
      const purchases: TrackedEvent[] = [];
      const click = (anon: string, time: number) =>
        browserClick(env.id, `lk-clk-${anon}`, 'linked', time, anon);
      for (let j = 0; j < CAPPED; j++) {
        touches.push(click(`lk-c${j}`, nowS - 6 * 86_400 + j));
        views.push(
          event('PageView', `lk-view-c${j}`, nowS - 4 * 86_400 - j, {
            anonymous_id: `lk-c${j}`,
            user_id: 'lk-capped',
          }),
        );
      }
      purchases.push(
        event('Purchase', 'lk-ord-capped', nowS - 2 * 86_400 + 60, { user_id: 'lk-capped' }),
      );
      for (let p = 0; p < PEOPLE; p++) {
        touches.push(click(`lk-o${p}`, nowS - 5 * 86_400 + p));
        views.push(
          event(
            'PageView',
            `lk-view-o${p}`,
            nowS - 4 * 86_400 + p,
            { anonymous_id: `lk-o${p}`, ...keysOf(p) },
            other.id,
          ),
        );
        for (const anon of browsers(p)) {
          touches.push(click(anon, nowS - 5 * 86_400 + p));
          const keys = anon.startsWith('lk-b')
            ? { email_sha256: keysOf(p).email_sha256 }
            : keysOf(p);
          views.push(
            event('PageView', `lk-view-${anon}`, nowS - 4 * 86_400 + p, {
              anonymous_id: anon,
              ...keys,
            }),
          );
        }
        const buyer = p % 4 === 3 ? { anonymous_id: `lk-a${p}` } : keysOf(p);
        purchases.push(event('Purchase', `lk-ord-${p}`, nowS - 86_400 + p, buyer));
      }
      await store.insertTouches(touches);
      const ctx = {
        environment: (id: string) => [env, other].find((e) => e.id === id),
        nowMs: NOW_MS,
        newId,
      };
      await store.ingest((tx) => processBatch(tx, views, ctx));
      await store.ingest((tx) => processBatch(tx, purchases, ctx));

      const from = nowS - 2 * 86_400;
      const to = nowS + 86_400;
      const before = await storedPaths(store, env.id, from, to);
      expect(before.size).toBe(PEOPLE + 1);
      const found = (prefix: string) =>
        [...before.values()].filter((p) => p.touches.some((t) => t.touch_id.startsWith(prefix)))
          .length;
      // Every buyer's click through a linked browser (or their own), and the second browsers'
      // (joined by an e-mail: those with none, or who bought with only a browser id, are not
      // found); the browsers linked in the other environment never.
      expect(found('lk-clk-lk-a')).toBe(PEOPLE);
      expect(found('lk-clk-lk-b')).toBe(
        Array.from({ length: PEOPLE }, (_, p) => p).filter(
          (p) => p % 5 === 0 && p % 3 !== 0 && p % 4 !== 3,
        ).length,
      );
      expect(found('lk-clk-lk-o')).toBe(0);
      expect(found('lk-clk-lk-c')).toBe(1);

      // Rebuilt with the reads counted: one event's links at a time, or many at once.
      let one = 0;
      let many = 0;
      const counted = txSeen(store, (tx) => {
        const set = tx.setWise;
        return new Proxy(tx, {
          get(t, k) {
            if (k === 'findLinkedAnonymousIds')
              return (...a: Parameters<IngestTx['findLinkedAnonymousIds']>) => {
                one++;
                return t.findLinkedAnonymousIds(...a);
              };
            if (k === 'setWise' && set)
              return new Proxy(set, {
                get(w, m) {
                  if (m !== 'findLinkedAnonymousIdsMany') return Reflect.get(w, m);
                  return (...a: Parameters<typeof w.findLinkedAnonymousIdsMany>) => {
                    many++;
                    return w.findLinkedAnonymousIdsMany(...a);
                  };
                },
              });
            return Reflect.get(t, k);
          },
        });
      });
      await wipe(store, before);
      expect(await recomputePaths(counted, env, from, to, () => NOW_MS + 1)).toBe(PEOPLE + 1);
      expect(await storedPaths(store, env.id, from, to)).toEqual(before);
      // PostgreSQL: a read a page (two) instead of one a Purchase; SQLite reads each in process.
      expect({ one, many }).toEqual(
        kind === 'postgres' ? { one: 0, many: 2 } : { one: PEOPLE + 1, many: 0 },
      );
      await wipe(store, before);
      expect(await recomputePaths(oneByOne(store), env, from, to, () => NOW_MS + 1)).toBe(
        PEOPLE + 1,
      );
      expect(await storedPaths(store, env.id, from, to)).toEqual(before);
    });
  });
}
