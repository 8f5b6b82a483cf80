import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { EnvironmentConfig } from '../../src/domain/config-types.js';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { type BatchContext, processBatch } from '../../src/ingest/ingest-pipeline.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { dedupKey } from '../helpers/stored-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// processBatch on each store: SQLite runs a batch event by event; PostgreSQL set-wise (one
// claim for the batch, one touch read and one conversion write per group of new events).
// Both must come to the same rows.

const NOW_MS = Date.now();
const T = Math.floor(NOW_MS / 1000);
const ENV = 'env_ib';
const hasPostgres = await postgresAvailable();

const { config, errors } = parseConfig(
  {
    admin_token: 'adm',
    environments: [
      {
        id: ENV,
        name: 'Ingest batch',
        write_key: 'wk_ib',
        destinations: [
          { id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/hook', events: ['Purchase'] },
        ],
      },
    ],
  },
  { port: 0, host: '127.0.0.1', data_dir: '/nonexistent' },
);
if (errors.length > 0) throw new Error(JSON.stringify(errors));
const env = config.environments[0] as EnvironmentConfig;

let ids = 0;
const ctx: BatchContext = {
  environment: (id) => (id === ENV ? env : undefined),
  nowMs: NOW_MS,
  newId: () => `ib${++ids}`,
};

function impression(touch_id: string, anonymous_id: string): Touch {
  return {
    env_id: ENV,
    kind: 'impression',
    touch_id,
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time: T - 60,
    anonymous_id,
    user_id: null,
    ip: null,
    user_agent: null,
  };
}

function event(
  event_name: string,
  event_id: string,
  user: TrackedEvent['user'],
  over: Partial<TrackedEvent> = {},
): TrackedEvent {
  return {
    env_id: ENV,
    event_name,
    event_id,
    event_time: T,
    source: 'server',
    user,
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: true, analytics: true },
    warnings: [],
    ...over,
  };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`ingest batches on ${kind}`, () => {
    let store: KyselyStore;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
      await store.insertTouches([
        impression('IMP-1', 'ib-cookie-1'),
        impression('IMP-2', 'ib-cookie-2'),
        impression('IMP-3', 'ib-cookie-3'),
        impression('IMP-4', 'ib-cookie-4'),
        impression('IMP-5', 'ib-cookie-5'),
      ]);
    });
    afterAll(async () => dispose?.());

    const batch = (events: TrackedEvent[]) =>
      store.ingest((tx) => processBatch(tx, events, { ...ctx }));
    const stored = async (event_id: string, event_name = 'Purchase') => {
      const key = await dedupKey(store, ENV, event_name, event_id);
      const ev = key && (await store.ingest((tx) => tx.getEvent(key.event_pk)));
      const conversions = ev ? await store.ingest((tx) => tx.conversionsOfEvent(ENV, ev.pk)) : [];
      return { ev, conversions };
    };
    const deliveriesOf = async (conversion_id: string) =>
      (await store.listDeliveries({ env_id: ENV, limit: 1000 })).filter(
        (d) => d.conversion_id === conversion_id,
      );

    it('IB01 copies within one batch: the first kept, the later one merged into it and counted', async () => {
      const out = await batch([
        event('Purchase', 'ib-1', { anonymous_id: 'ib-cookie-1' }),
        event('Purchase', 'ib-1', { user_id: 'ib-u1' }),
      ]);
      // Its one delivery queued: the commit wakes the delivery worker (ingest.ts, commit).
      expect(out[0]).toMatchObject({ status: 'accepted', conversions: 1, deliveries: 1 });
      const pk = (out[0] as { pk: string }).pk;
      expect(out[1]).toEqual({ status: 'duplicate', of: pk });
      const { ev, conversions } = await stored('ib-1');
      expect(ev?.pk).toBe(pk);
      expect(ev?.duplicate_count).toBe(1);
      expect(ev?.event.user).toMatchObject({ anonymous_id: 'ib-cookie-1', user_id: 'ib-u1' });
      expect(conversions).toHaveLength(1);
      expect(conversions[0]?.attribution?.imp_id).toBe('IMP-1');
      // An attributed conversion is queued for its destination, once.
      expect(await deliveriesOf(conversions[0]?.conversion_id as string)).toHaveLength(1);
    });

    it('IB01b a later copy that adds to the event records when it merged (an erasure searches it again); one that adds nothing does not', async () => {
      await batch([event('Purchase', 'ib-1b', { anonymous_id: 'ib-cookie-1b' })]);
      await batch([event('Purchase', 'ib-1b', { anonymous_id: 'ib-cookie-1b' })]);
      const mergedAt = async () => {
        const { ev } = await stored('ib-1b');
        const rows = await store.db
          .selectFrom('event_merges')
          .select('merged_at_ms')
          .where('pk', '=', ev?.pk as string)
          .execute();
        return rows.map((r) => Number(r.merged_at_ms));
      };
      expect(await mergedAt()).toEqual([]);
      await batch([event('Purchase', 'ib-1b', { email_sha256: 'e'.repeat(64) })]);
      expect(await mergedAt()).toEqual([NOW_MS]);
    });

    it('IB02 an identify then a purchase in one request: the purchase matches the linked cookie', async () => {
      await batch([
        event('Signup', 'ib-2s', { anonymous_id: 'ib-cookie-2', user_id: 'ib-u2' }),
        event('Purchase', 'ib-2', { user_id: 'ib-u2' }),
      ]);
      const { conversions } = await stored('ib-2');
      expect(conversions).toHaveLength(1);
      expect(conversions[0]?.attribution).toMatchObject({ imp_id: 'IMP-2' });
    });

    it('IB03 a purchase before the identify that links its cookie is not matched through it', async () => {
      const out = await batch([
        event('Purchase', 'ib-3', { user_id: 'ib-u3' }),
        event('Signup', 'ib-3s', { anonymous_id: 'ib-cookie-3', user_id: 'ib-u3' }),
      ]);
      // Nothing queued: this commit leaves the delivery worker asleep.
      expect(out[0]).toMatchObject({ status: 'accepted', conversions: 1, deliveries: 0 });
      const { conversions } = await stored('ib-3');
      expect(conversions).toHaveLength(1);
      expect(conversions[0]?.attribution).toBeNull();
      expect(await deliveriesOf(conversions[0]?.conversion_id as string)).toHaveLength(0);
    });

    it('IB04 a later copy in the batch brings the cookie the first lacked: attributed on it', async () => {
      await batch([
        event('Purchase', 'ib-4', { user_id: 'ib-u4' }),
        event('Purchase', 'ib-4x', { anonymous_id: 'ib-nobody' }),
        event('Purchase', 'ib-4', { anonymous_id: 'ib-cookie-4' }),
      ]);
      const { ev, conversions } = await stored('ib-4');
      expect(ev?.duplicate_count).toBe(1);
      expect(conversions).toHaveLength(1);
      expect(conversions[0]?.attribution).toMatchObject({ imp_id: 'IMP-4' });
      expect(await deliveriesOf(conversions[0]?.conversion_id as string)).toHaveLength(1);
      expect((await stored('ib-4x')).conversions[0]?.attribution).toBeNull();
    });

    it('IB04b a later copy brings the value and currency the first lacked: the conversion keeps them', async () => {
      // The browser's beacon often goes first without the order's value; the server's copy
      // has it. Reports and deliveries read the conversion row's value.
      await batch([
        event('Purchase', 'ib-4b', { anonymous_id: 'ib-cookie-5' }, { properties: {} }),
      ]);
      expect((await stored('ib-4b')).conversions[0]).toMatchObject({ value: null, currency: null });
      await batch([
        event(
          'Purchase',
          'ib-4b',
          { anonymous_id: 'ib-cookie-5' },
          { properties: { value: 42.5, currency: 'USD' } },
        ),
      ]);
      const { conversions } = await stored('ib-4b');
      expect(conversions).toHaveLength(1);
      expect(conversions[0]).toMatchObject({ value: 42.5, currency: 'USD' });
      expect(conversions[0]?.attribution).toMatchObject({ imp_id: 'IMP-5' });
    });

    it('IB05 concurrent requests with copies of the same events: each stored once, one conversion each', async () => {
      const a = [
        event('Purchase', 'ib-5a', { anonymous_id: 'ib-cookie-5' }),
        event('Purchase', 'ib-5b', { user_id: 'ib-u5' }),
      ];
      const b = [
        event('Purchase', 'ib-5b', { anonymous_id: 'ib-cookie-5' }),
        event('Purchase', 'ib-5a', { user_id: 'ib-u5' }),
      ];
      const results = await Promise.all([batch(a), batch(b), batch([...a].reverse())]);
      const all = results.flat();
      expect(all.filter((o) => o.status === 'accepted')).toHaveLength(2);
      expect(all.filter((o) => o.status === 'duplicate')).toHaveLength(4);
      for (const id of ['ib-5a', 'ib-5b']) {
        const { ev, conversions } = await stored(id);
        expect(ev?.duplicate_count).toBe(2);
        expect(ev?.event.user).toMatchObject({ anonymous_id: 'ib-cookie-5', user_id: 'ib-u5' });
        expect(conversions).toHaveLength(1);
        // Whichever copy came first, the merged identity finds the impression.
        expect(conversions[0]?.attribution).toMatchObject({ imp_id: 'IMP-5' });
        expect(await deliveriesOf(conversions[0]?.conversion_id as string)).toHaveLength(1);
      }
    });

    it('IB06 concurrent requests linking the same ids in crossed order both commit', async () => {
      const links = (n: number) =>
        event('Signup', `ib-6-${n}`, { anonymous_id: `ib-cookie-6-${n}`, user_id: `ib-u6-${n}` });
      const forward = [1, 2, 3, 4].map(links);
      const backward = [4, 3, 2, 1].map((n) => ({ ...links(n), event_id: `ib-6r-${n}` }));
      // On PostgreSQL both transactions first link their first id (1, and 4), then go on:
      // each will need the row the other holds, a certain deadlock. PostgreSQL aborts one,
      // which must be run again rather than fail its request. (SQLite has one writer.)
      let arrived = 0;
      let release = () => {};
      const bothLinked = new Promise<void>((r) => {
        release = r;
      });
      const between = () => {
        if (++arrived === 2) release();
        return bothLinked;
      };
      const crossed = (events: TrackedEvent[]) =>
        store.ingest((tx) =>
          processBatch(tx, events, kind === 'postgres' ? { ...ctx, between } : { ...ctx }),
        );
      const [a, b] = await Promise.all([crossed(forward), crossed(backward)]);
      expect([...a, ...b].map((o) => o.status)).toEqual(Array(8).fill('accepted'));
    });

    it('IB07 ids with a lone surrogate (a JSON body may carry one) are stored like any other', async () => {
      const out = await batch([
        event('Purchase', 'ib-7\ud800', { anonymous_id: 'ib-cookie-7\udc00', user_id: 'u\ud800' }),
        event('Purchase', 'ib-7b', { anonymous_id: 'ib-cookie-7' }),
      ]);
      expect(out.map((o) => o.status)).toEqual(['accepted', 'accepted']);
      expect((await stored('ib-7b')).conversions).toHaveLength(1);
    });

    it('IB08 a test event is stored flagged as one; a property named test_code is not a test', async () => {
      const out = await batch([
        event('Purchase', 'ib-8a', { user_id: 'ib-u8' }, { test_code: 'TEST8' }),
        event(
          'Purchase',
          'ib-8b',
          { user_id: 'ib-u8' },
          {
            properties: { value: 5, currency: 'EUR', test_code: 'SPRING-A' },
          },
        ),
      ]);
      expect(out.map((o) => o.status)).toEqual(['accepted', 'accepted']);
      // The lift reads events by that flag (0032_lift_reads).
      const read = await store.liftEvents(ENV, ['Purchase'], T - 10, T + 10, {
        user_ids: ['ib-u8'],
        anonymous_ids: [],
      });
      expect(read.map((r) => r.value)).toEqual([5]);
    });
  });
}
