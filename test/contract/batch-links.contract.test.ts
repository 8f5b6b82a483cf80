import pg from 'pg';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { EnvironmentConfig } from '../../src/domain/config-types.js';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { processBatch } from '../../src/ingest/ingest-pipeline.js';
import { seededRandom } from '../../src/seed/demo-seed.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { IngestTx } from '../../src/store/store.js';
import { tempDir, testConfig } from '../helpers/pixeltrail.js';
import { serverEvent } from '../helpers/server-event.js';
import { dedupKey } from '../helpers/stored-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';
import { browserClick } from '../helpers/touch.js';

// A batch's events link their identities one after the other, and each reads the links of
// those before it. On PostgreSQL the batch reads its strong keys' links once and writes its
// links once (SetWiseIngest.bufferLinks, issue 22): what it decides and stores must be what
// the same events give one statement at a time.

const hasPostgres = await postgresAvailable();
const NOW_MS = Date.parse('2026-12-01T12:00:00Z');
const NOW_S = NOW_MS / 1000;
const DAY = 86_400;

async function opened() {
  const open = STORE_KINDS.postgres;
  if (!open) throw new Error('no postgres store');
  const { store, dispose, url } = await open();
  onTestFinished(dispose);
  return { store, url: url as string };
}

function environment(): EnvironmentConfig {
  const { config } = parseConfig(testConfig('http://127.0.0.1:9/hook'), { data_dir: tempDir() });
  const env = config.environments[0];
  if (!env) throw new Error('no environment');
  return env;
}

/** Each ingest transaction's `tx` without its set-wise statements: one statement at a time. */
function oneByOne(store: KyselyStore): KyselyStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'ingest') return Reflect.get(target, key, receiver);
      return <T>(fn: (tx: IngestTx) => Promise<T>) =>
        target.ingest((tx) =>
          fn(new Proxy(tx, { get: (t, k) => (k === 'setWise' ? undefined : Reflect.get(t, k)) })),
        );
    },
  });
}

const event = (
  name: string,
  id: string,
  time: number,
  user: TrackedEvent['user'],
  ads = true,
  env_id = 'env_t',
) => serverEvent(env_id, name, id, time, user, ads);
/** A second environment of the same config, where the history's people have no click. */
const OTHER_ENV = 'env_u';

const click = (anon: string, time: number) =>
  browserClick('env_t', `clk-${anon}`, 'c1', time, anon);

/**
 * A random history: people with one to three browsers (each with a click), a user id, an
 * e-mail and a phone, some shared between two people; sign-ups that join some of them,
 * Leads and Purchases sent with some of them, later copies of Purchases (in the same batch
 * or a later one) that bring other ids, and events without consent. One person has more
 * linked browsers than a read keeps. Cut into batches of 1 to 40.
 */
function history(seed: number) {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  const PEOPLE = 30;
  const touches: Touch[] = [];
  const people = Array.from({ length: PEOPLE }, (_, p) => {
    const browsers = Array.from(
      { length: 1 + Math.floor(rnd() * 3) },
      (_, k) => `s${seed}-b${p}-${k}`,
    );
    for (const b of browsers) touches.push(click(b, NOW_S - 5 * DAY + Math.floor(rnd() * 4 * DAY)));
    // Every seventh shares the e-mail of the person before (a household's address).
    const mail = p % 7 === 6 ? p - 1 : p;
    return {
      browsers,
      user_id: `s${seed}-u${p}`,
      email_sha256: `s${seed}-e${mail}`,
      phone_sha256: `s${seed}-p${p}`,
    };
  });
  const keysOf = (p: (typeof people)[number]) => {
    const user: TrackedEvent['user'] = {};
    if (rnd() < 0.6) user.user_id = p.user_id;
    if (rnd() < 0.6) user.email_sha256 = p.email_sha256;
    if (rnd() < 0.2) user.phone_sha256 = p.phone_sha256;
    return user;
  };
  // Its browsers past the cap (in the store's order) are the ones with clicks: a read that
  // kept more than the cap would credit them.
  const capped = Array.from({ length: 205 }, (_, j) => `s${seed}-cap${String(j).padStart(3, '0')}`);
  for (const b of capped.slice(200)) touches.push(click(b, NOW_S - 3 * DAY));
  const events: TrackedEvent[] = capped.map((b, j) =>
    event('Signup', `cap-sig-${j}`, NOW_S - 4 * DAY + j, {
      anonymous_id: b,
      user_id: `s${seed}-ucap`,
    }),
  );
  const purchases: TrackedEvent[] = [];
  let t = NOW_S - DAY;
  for (let n = 0; n < 400; n++) {
    t += 1 + Math.floor(rnd() * 30);
    const p = pick(people);
    const browser = pick(p.browsers);
    const r = rnd();
    // One event in five in a second environment: the same people, its own links.
    const env_id = rnd() < 0.2 ? OTHER_ENV : 'env_t';
    if (r < 0.25) {
      events.push(
        event('Signup', `sig-${n}`, t, { anonymous_id: browser, ...keysOf(p) }, true, env_id),
      );
    } else if (r < 0.35) {
      events.push(
        event('Lead', `lead-${n}`, t, { anonymous_id: browser, ...keysOf(p) }, rnd() < 0.9, env_id),
      );
    } else if (r < 0.7) {
      const user = rnd() < 0.3 ? { anonymous_id: browser, ...keysOf(p) } : keysOf(p);
      const e = event('Purchase', `ord-${n}`, t, user, rnd() < 0.9, env_id);
      events.push(e);
      purchases.push(e);
    } else if (r < 0.9 && purchases.length > 0) {
      // A later copy of a Purchase, with other ids of its buyer's.
      const first = pick(purchases);
      events.push({ ...first, user: { anonymous_id: browser, ...keysOf(p) } });
    } else {
      events.push(event('Purchase', `cap-ord-${n}`, t, { user_id: `s${seed}-ucap` }));
    }
  }
  const batches: TrackedEvent[][] = [];
  for (let at = 0; at < events.length; ) {
    const n = 1 + Math.floor(rnd() * 40);
    batches.push(events.slice(at, at + n));
    at += n;
  }
  return { touches, batches, events };
}

/** What a store made of the history: each event's conversions and path, and every link. */
async function outcome(store: KyselyStore, url: string, events: readonly TrackedEvent[]) {
  const conversions: Record<string, unknown> = {};
  for (const e of events) {
    if (e.event_name !== 'Purchase' && e.event_name !== 'Lead') continue;
    const key = await dedupKey(store, e.env_id, e.event_name, e.event_id);
    if (!key) throw new Error(`${e.event_id} not stored`);
    const rows = await store.ingest((tx) => tx.conversionsOfEvent(e.env_id, key.event_pk));
    const path = rows[0] ? await store.getConversionPath(e.env_id, rows[0].conversion_id) : null;
    conversions[`${e.event_name}/${e.event_id}`] = {
      rows: rows.map((c) => ({
        dest: c.dest_id,
        credit: c.attribution && [c.attribution.click_id, c.attribution.match_key],
        reason: c.reason,
      })),
      path: path?.touches.map((x) => x.touch_id),
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select env_id, key_type, key_value, anonymous_id, last_seen::int as seen from identity_links
       order by env_id, key_type, key_value, anonymous_id`,
    );
    return { conversions, links: rows };
  } finally {
    await client.end();
  }
}

describe.skipIf(!hasPostgres)("a batch's identity links on postgres", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const ctxOf = (env: EnvironmentConfig) => {
    let n = 0;
    return {
      environment: (id: string) =>
        id === env.id ? env : id === OTHER_ENV ? { ...env, id: OTHER_ENV } : undefined,
      nowMs: NOW_MS,
      newId: (prefix: string) => `${prefix}${(++n).toString(36).padStart(8, '0')}`,
    };
  };

  it('BL01 random batches decide and link as the same events one statement at a time', async () => {
    const env = environment();
    for (const seed of [1, 2]) {
      const { touches, batches, events } = history(seed);
      const results = [];
      for (const setWise of [true, false]) {
        const { store, url } = await opened();
        const s = setWise ? store : oneByOne(store);
        await store.insertTouches(touches);
        const ctx = ctxOf(env);
        for (const b of batches) await s.ingest((tx) => processBatch(tx, b, ctx));
        results.push(await outcome(store, url, events));
      }
      const [set, single] = results;
      // The history does what it is for: links made, credit through them, a capped key.
      expect(single?.links.length).toBeGreaterThan(300);
      expect(single?.links.filter((l) => l.env_id === OTHER_ENV).length).toBeGreaterThan(30);
      expect(
        Object.values(single?.conversions ?? {}).filter((c) =>
          JSON.stringify(c).includes('user_id'),
        ).length,
      ).toBeGreaterThan(10);
      const cappedCredits = Object.entries(single?.conversions ?? {}).filter(
        ([id, c]) => id.includes('cap-ord') && JSON.stringify(c).includes('clk-'),
      );
      expect(cappedCredits).toEqual([]);
      expect(set).toEqual(single);
    }
  });

  it('BL02 a batch of Purchases with a user id and an e-mail reads its links in one statement and writes them in one', async () => {
    // Set before the store connects: each connection binds its query function once.
    let counting = false;
    const texts: string[] = [];
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
      if (counting && text?.includes('"identity_links"')) texts.push(text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query);
    const env = environment();
    const { store, url } = await opened();
    const ctx = ctxOf(env);
    const signups = Array.from({ length: 100 }, (_, p) =>
      event('Signup', `bl2-sig-${p}`, NOW_S - 2 * DAY + p, {
        anonymous_id: `bl2-b${p}`,
        user_id: `bl2-u${p}`,
      }),
    );
    await store.insertTouches(
      signups.map((e) => click(e.user.anonymous_id as string, NOW_S - 3 * DAY)),
    );
    await store.ingest((tx) => processBatch(tx, signups, ctx));
    const purchases = Array.from({ length: 100 }, (_, p) =>
      event('Purchase', `bl2-ord-${p}`, NOW_S - DAY + p, {
        anonymous_id: `bl2-new${p}`,
        user_id: `bl2-u${p}`,
        email_sha256: `bl2-e${p}`,
      }),
    );
    counting = true;
    await store.ingest((tx) => processBatch(tx, purchases, ctx));
    counting = false;
    expect(texts.map((t) => (t.trimStart().startsWith('insert') ? 'write' : 'read'))).toEqual([
      'read',
      'write',
    ]);
    // Each buyer's user id and e-mail now both link the browser of the sign-up and the new one.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client
      .query(
        `select key_type, key_value, anonymous_id from identity_links
         where key_value in ('bl2-u57', 'bl2-e57') order by key_type, anonymous_id`,
      )
      .finally(() => client.end());
    expect(rows.map((r) => `${r.key_type} ${r.anonymous_id}`)).toEqual([
      'email bl2-b57',
      'email bl2-new57',
      'user_id bl2-b57',
      'user_id bl2-new57',
    ]);
    // Each Purchase was credited through the browser its user id was linked to before.
    for (const p of [0, 57, 99]) {
      const key = await dedupKey(store, 'env_t', 'Purchase', `bl2-ord-${p}`);
      const [row] = await store.ingest((tx) => tx.conversionsOfEvent('env_t', key?.event_pk ?? ''));
      expect(row?.attribution).toMatchObject({ click_id: `clk-bl2-b${p}`, match_key: 'user_id' });
    }
  });
});
