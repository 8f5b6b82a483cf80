import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { EnvironmentConfig } from '../../src/domain/config-types.js';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { protectIp } from '../../src/domain/ip-privacy.js';
import type { BatchContext, EventOutcome } from '../../src/ingest/batch-context.js';
import { processBatchSetWise } from '../../src/ingest/process-batch-set-wise.js';
import type { SetWiseIngest, Store, TouchLookup } from '../../src/store/store.js';
import { dedupKey } from '../helpers/stored-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// The set-wise batch (PostgreSQL) reads touches as decide() does on SQLite (decisions.test.ts
// DC01-DC04): the person's own first, the address's only for the events those do not settle
// (issue 22), in two set-wise reads at most. Reads are counted on a wrapped SetWiseIngest.

const NOW_MS = Date.now();
const T = Math.floor(NOW_MS / 1000);
const H = 3600;
const D = 86_400;
const OFFICE = '203.0.113.9';
const hasPostgres = await postgresAvailable();

const destination = (id: string) => ({
  id,
  type: 'webhook',
  url: 'http://127.0.0.1:9/hook',
  events: ['Purchase'],
  click_window: '7d',
  view_window: '1d',
});
const { config, errors } = parseConfig(
  {
    admin_token: 'adm',
    environments: [
      { id: 'env_one', name: 'One', write_key: 'wk_one', destinations: [destination('dsp1')] },
      {
        id: 'env_two',
        name: 'Two',
        write_key: 'wk_two',
        destinations: [destination('dsp1'), destination('dsp2')],
      },
    ],
  },
  { port: 0, host: '127.0.0.1', data_dir: '/nonexistent' },
);
if (errors.length > 0) throw new Error(JSON.stringify(errors));
const envs = new Map(config.environments.map((e) => [e.id, e]));
const env = (id: string) => envs.get(id) as EnvironmentConfig;

let ids = 0;
const ctx: BatchContext = {
  environment: (id) => envs.get(id),
  nowMs: NOW_MS,
  newId: () => `sw${++ids}`,
};

/** A touch of `dest` at the office address, stored as its environment stores addresses. */
function touch(env_id: string, over: Partial<Touch> & Pick<Touch, 'touch_id'>): Touch {
  const e = env(env_id);
  return {
    env_id,
    kind: 'click',
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time: T - H,
    anonymous_id: 'sw-stranger',
    user_id: null,
    ip: protectIp(OFFICE, e.ip_storage, e.ip_secret),
    // Not the buyers' agent: an address and agent together would outrank the address alone.
    user_agent: 'Other UA',
    ...over,
  };
}

function purchase(env_id: string, event_id: string, user: TrackedEvent['user']): TrackedEvent {
  return {
    env_id,
    event_name: 'Purchase',
    event_id,
    event_time: T,
    source: 'server',
    user: { ip: OFFICE, user_agent: 'UA', ...user },
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: true, analytics: true },
    warnings: [],
  };
}

/** One touch read of the batch: its lookups, whether each read its own keys first, and answers. */
interface Read {
  lookups: TouchLookup[];
  ownFirst: boolean[];
  found: Array<{ touches: Touch[]; own: boolean }>;
}

/** `set` recording each of its touch reads. */
function counted(set: SetWiseIngest) {
  const reads: Read[] = [];
  const wrapped: SetWiseIngest = {
    claimAndInsertEvents: (...args) => set.claimAndInsertEvents(...args),
    findTouchesMany: async (lookups) => {
      const found = await set.findTouchesMany(lookups);
      const ownFirst = lookups.map(() => false);
      reads.push({
        lookups: [...lookups],
        ownFirst,
        found: found.map((touches) => ({ touches, own: false })),
      });
      return found;
    },
    findTouchesOwnFirst: async (asked) => {
      const found = await set.findTouchesOwnFirst(asked);
      reads.push({
        lookups: asked.map((r) => r.lookup),
        ownFirst: asked.map((r) => r.own_first),
        found,
      });
      return found;
    },
    recordConversions: (rows) => set.recordConversions(rows),
    findLinkedAnonymousIdsMany: (asked) => set.findLinkedAnonymousIdsMany(asked),
    bufferLinks: (reads) => set.bufferLinks(reads),
  };
  return { wrapped, reads };
}

/**
 * `fn`'s result and the rows the store received from PostgreSQL while it ran, but the row of
 * the transaction's settings.
 */
async function rowsReceived<T>(fn: () => Promise<T>): Promise<{ value: T; rows: number }> {
  const proto = pg.Query.prototype as unknown as {
    handleDataRow: (...a: unknown[]) => unknown;
    text?: string;
  };
  const handle = proto.handleDataRow;
  let rows = 0;
  proto.handleDataRow = function (this: typeof proto, ...args: unknown[]) {
    if (!this.text?.startsWith('select set_config(')) rows++;
    return handle.apply(this, args);
  };
  try {
    return { value: await fn(), rows };
  } finally {
    proto.handleDataRow = handle;
  }
}

describe.skipIf(!hasPostgres)('set-wise touch read on postgres', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const open = STORE_KINDS.postgres;
    if (!open) throw new Error('no postgres store kind');
    ({ store, dispose } = await open());
    await store.insertTouches([
      touch('env_one', { touch_id: 'CLK-stranger' }),
      touch('env_one', {
        touch_id: 'CLK-own',
        anonymous_id: 'sw-settled',
        time: T - D,
      }),
      // 3 days old: outside the 1 d view window, so it credits nothing.
      touch('env_one', {
        kind: 'impression',
        touch_id: 'IMP-old',
        anonymous_id: 'sw-unsettled',
        time: T - 3 * D,
      }),
      touch('env_two', { touch_id: 'CLK-stranger-2', dest_id: 'dsp2' }),
      touch('env_two', {
        touch_id: 'CLK-own-2',
        anonymous_id: 'sw-half',
        time: T - D,
      }),
    ]);
  });
  afterAll(async () => dispose?.());

  /** The batch through the set-wise path with its reads counted. */
  async function batch(events: TrackedEvent[]) {
    let reads: Read[] = [];
    const outcomes: EventOutcome[] = await store.ingest(async (tx) => {
      if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
      const c = counted(tx.setWise);
      reads = c.reads;
      return processBatchSetWise(tx, c.wrapped, events, { ...ctx });
    });
    return { outcomes, reads };
  }

  const attributionOf = async (env_id: string, event_id: string, dest_id = 'dsp1') => {
    const key = await dedupKey(store, env_id, 'Purchase', event_id);
    if (!key) throw new Error(`${event_id} not stored`);
    const rows = await store.ingest((tx) => tx.conversionsOfEvent(env_id, key.event_pk));
    return rows.find((r) => r.dest_id === dest_id)?.attribution ?? null;
  };

  /** The touch ids each read found for the browser id `anon`. */
  const readsOf = (reads: Read[], anon: string) =>
    reads.flatMap((r) =>
      r.lookups.flatMap((l, i) =>
        l.anonymous_ids.includes(anon)
          ? [{ ownFirst: r.ownFirst[i], found: r.found[i]?.touches.map((t) => t.touch_id) }]
          : [],
      ),
    );

  it("SW01 a buyer credited by their own cookie: the address's touches are not read", async () => {
    const { reads } = await batch([purchase('env_one', 'sw-1', { anonymous_id: 'sw-settled' })]);
    expect(await attributionOf('env_one', 'sw-1')).toMatchObject({
      click_id: 'CLK-own',
      match_key: 'cookie',
    });
    // One read, which left the address's stranger unread.
    expect(readsOf(reads, 'sw-settled')).toEqual([{ ownFirst: true, found: ['CLK-own'] }]);
  });

  it('SW02 a buyer with no touch of their own is credited by the address, in the one read', async () => {
    const { reads } = await batch([purchase('env_one', 'sw-2', { anonymous_id: 'sw-new' })]);
    expect(await attributionOf('env_one', 'sw-2')).toMatchObject({
      click_id: 'CLK-stranger',
      match_key: 'ip',
    });
    // Every touch at the address (the others' own ones too), in the one read.
    expect(readsOf(reads, 'sw-new')).toEqual([
      { ownFirst: true, found: ['CLK-stranger', 'CLK-own', 'IMP-old'] },
    ]);
  });

  it("SW03 an own touch that credits nothing leaves the address's touches to compete", async () => {
    const { reads } = await batch([purchase('env_one', 'sw-3', { anonymous_id: 'sw-unsettled' })]);
    expect(await attributionOf('env_one', 'sw-3')).toMatchObject({
      click_id: 'CLK-stranger',
      match_key: 'ip',
    });
    expect(readsOf(reads, 'sw-unsettled')).toEqual([
      { ownFirst: true, found: ['IMP-old'] },
      { ownFirst: false, found: ['IMP-old', 'CLK-stranger', 'CLK-own'] },
    ]);
  });

  it("SW04 one destination credited by the buyer's own click, another open: the address is read", async () => {
    const { reads } = await batch([purchase('env_two', 'sw-4', { anonymous_id: 'sw-half' })]);
    expect(await attributionOf('env_two', 'sw-4', 'dsp1')).toMatchObject({
      click_id: 'CLK-own-2',
      match_key: 'cookie',
    });
    expect(await attributionOf('env_two', 'sw-4', 'dsp2')).toMatchObject({
      click_id: 'CLK-stranger-2',
      match_key: 'ip',
    });
    expect(readsOf(reads, 'sw-half')).toHaveLength(2);
  });

  it('SW05 a batch of all kinds: two reads in all, the second for the unsettled event alone', async () => {
    const { reads } = await batch([
      purchase('env_one', 'sw-5a', { anonymous_id: 'sw-settled' }),
      purchase('env_one', 'sw-5b', { anonymous_id: 'sw-unsettled' }),
      purchase('env_one', 'sw-5c', { anonymous_id: 'sw-new-5' }),
      // A server event with an address alone reads it at once.
      purchase('env_one', 'sw-5d', {}),
    ]);
    expect(reads.map((r) => r.ownFirst)).toEqual([[true, true, true, false], [false]]);
    expect(reads[1]?.lookups[0]?.anonymous_ids).toEqual(['sw-unsettled']);
    expect(await attributionOf('env_one', 'sw-5a')).toMatchObject({ click_id: 'CLK-own' });
    for (const id of ['sw-5b', 'sw-5c', 'sw-5d'])
      expect(await attributionOf('env_one', id)).toMatchObject({
        click_id: 'CLK-stranger',
        match_key: 'ip',
      });
  });

  it('SW06 an own-first read: the address read only where the other keys find nothing', async () => {
    const e = env('env_one');
    const lookup = (anonymous_ids: string[]): TouchLookup => ({
      env_id: 'env_one',
      anonymous_ids,
      touch_ids: [],
      ip: protectIp(OFFICE, e.ip_storage, e.ip_secret),
      since: T - 7 * D,
    });
    const ids = (touches: Touch[]) => touches.map((t) => t.touch_id);
    const read = await store.ingest(async (tx) => {
      if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
      return tx.setWise.findTouchesOwnFirst([
        { lookup: lookup(['sw-settled']), own_first: true },
        { lookup: lookup(['sw-nobody']), own_first: true },
        { lookup: lookup(['sw-settled']), own_first: false },
      ]);
    });
    expect(read.map((r) => ({ own: r.own, ids: ids(r.touches) }))).toEqual([
      { own: true, ids: ['CLK-own'] },
      { own: false, ids: ['CLK-stranger', 'CLK-own', 'IMP-old'] },
      { own: false, ids: ['CLK-own', 'CLK-stranger', 'IMP-old'] },
    ]);
  });

  it("SW07 an address's touches read again come the same, their rows not received again", async () => {
    // A busy address's rows were most of a Purchase's CPU (issue 22): read before, they are
    // taken from memory, the address giving its touches' ids alone.
    const e = env('env_one');
    const ip = protectIp('198.51.100.40', e.ip_storage, e.ip_secret);
    const busy = Array.from({ length: 30 }, (_, i) =>
      touch('env_one', {
        touch_id: `IMP-busy-${i}`,
        kind: 'impression',
        anonymous_id: `sw-busy-${i % 7}`,
        ip,
        time: T - H - i * 60,
      }),
    );
    await store.insertTouches(busy);
    const own: TouchLookup = {
      env_id: 'env_one',
      anonymous_ids: ['sw-busy-3'],
      touch_ids: [],
      ip,
      since: T - 7 * D,
    };
    const read = () =>
      store.ingest(async (tx) => {
        if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
        return tx.setWise.findTouchesMany([own, { ...own, anonymous_ids: [] }]);
      });
    const ids = (touches: Touch[] | undefined) => touches?.map((t) => t.touch_id);
    const newestFirst = busy.map((t) => t.touch_id);
    const mine = busy.filter((t) => t.anonymous_id === 'sw-busy-3').map((t) => t.touch_id);
    const first = await read();
    // The own key's touches first, each touch once, then the address's, newest first.
    expect(first.map(ids)).toEqual([
      [...mine, ...newestFirst.filter((id) => !mine.includes(id))],
      newestFirst,
    ]);
    const again = await rowsReceived(read);
    expect(again.value).toEqual(first);
    // The own key's rows and a row of ids a lookup: 64 rows (4 + 30 + 30) before.
    expect(again.rows).toBeLessThan(busy.length);
    // An erasure forgets the touches kept: the next read receives the others' rows again.
    await store.eraseSubject({ env_id: 'env_one', anonymous_id: 'sw-busy-3' }, () => [], T * 1000);
    const erased = await rowsReceived(read);
    expect(erased.value.map(ids)).toEqual([
      newestFirst.filter((id) => !mine.includes(id)),
      newestFirst.filter((id) => !mine.includes(id)),
    ]);
    expect(erased.rows).toBeGreaterThanOrEqual(busy.length - mine.length);
  });

  it('SW08 the touches a transaction read after writing touches are not kept for the next', async () => {
    // Their rows may never commit: PostgreSQL would not give their ids again, but what is
    // kept in memory is only what is stored.
    const ip = protectIp('198.51.100.41', env('env_one').ip_storage, env('env_one').ip_secret);
    const lookup: TouchLookup = {
      env_id: 'env_one',
      anonymous_ids: [],
      touch_ids: [],
      ip,
      since: T - D,
    };
    const at = (i: number) =>
      touch('env_one', { touch_id: `IMP-wrote-${i}`, kind: 'impression', ip, time: T - i * 60 });
    const writeAndRead = (touches: Touch[]) =>
      store.ingest(async (tx) => {
        await tx.insertTouches(touches);
        return tx.setWise?.findTouchesMany([lookup]);
      });
    const read = () =>
      rowsReceived(() => store.ingest(async (tx) => tx.setWise?.findTouchesMany([lookup])));
    const ids = (found: Touch[][] | undefined) => found?.[0]?.map((t) => t.touch_id);
    // An address not read before comes as rows: read after a write, they are not kept...
    expect(ids(await writeAndRead([at(3), at(4), at(5)]))).toEqual([
      'IMP-wrote-3',
      'IMP-wrote-4',
      'IMP-wrote-5',
    ]);
    const first = await read();
    expect(ids(first.value)).toEqual(['IMP-wrote-3', 'IMP-wrote-4', 'IMP-wrote-5']);
    expect(first.rows).toBe(3);
    // ...nor, for an address read before (its ids, then the rows not kept), the new ones.
    expect(ids(await writeAndRead([at(1), at(2)]))).toEqual([
      'IMP-wrote-1',
      'IMP-wrote-2',
      'IMP-wrote-3',
      'IMP-wrote-4',
      'IMP-wrote-5',
    ]);
    const next = await read();
    expect(ids(next.value)).toEqual([
      'IMP-wrote-1',
      'IMP-wrote-2',
      'IMP-wrote-3',
      'IMP-wrote-4',
      'IMP-wrote-5',
    ]);
    // The row of ids, then the two new touches' rows, read from the database again.
    expect(next.rows).toBe(3);
  });
});
