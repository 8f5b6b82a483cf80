import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Holdout } from '../../src/domain/holdout.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// The holdouts port (issue 23 §3) on SQLite and PostgreSQL alike.

const hasPostgres = await postgresAvailable();
const NOW_S = Math.floor(Date.now() / 1000);

const holdout = (id: string, subject_id: string): Holdout => ({
  env_id: 'env_h',
  id,
  name: `holdout ${id}`,
  subject_type: 'campaign',
  subject_id,
  salt: id,
  fractions: [{ from_ms: 1000, fraction: 0.1 }],
  conversion_events: ['Purchase'],
  created_at_ms: 1000,
  updated_at_ms: 1000,
});

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Holdouts store on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('HS01 a holdout is kept, found by subject, edited and deleted with its entries', async () => {
      const v0 = await store.holdoutsVersion();
      await store.createHoldout(holdout('ho_1', 'c1'));
      await store.createHoldout(holdout('ho_2', 'c2'));
      expect(await store.holdoutsVersion()).not.toBe(v0);
      expect(await store.getHoldout('ho_1')).toEqual(holdout('ho_1', 'c1'));
      expect((await store.holdoutOfSubject('env_h', 'campaign', 'c2'))?.id).toBe('ho_2');
      expect(await store.holdoutOfSubject('env_h', 'audience', 'c2')).toBeNull();
      const edited: Holdout = {
        ...holdout('ho_1', 'c1'),
        fractions: [
          { from_ms: 1000, fraction: 0.1 },
          { from_ms: 5000, fraction: 0.3 },
        ],
        conversion_events: ['Purchase', 'Lead'],
        updated_at_ms: 5000,
      };
      await store.updateHoldout(edited);
      expect(await store.getHoldout('ho_1')).toEqual(edited);
      expect((await store.listHoldouts('env_h')).map((h) => h.id)).toEqual(['ho_1', 'ho_2']);
      await store.recordHoldoutEntries('env_h', 'ho_2', ['u:a'], NOW_S);
      await store.deleteHoldout('env_h', 'ho_2');
      expect(await store.getHoldout('ho_2')).toBeNull();
      expect(await store.holdoutEntries('ho_2', 0, NOW_S + 10)).toEqual([]);
    });

    it('HS02 a first entry stays; entries are read by range', async () => {
      await store.recordHoldoutEntries('env_h', 'ho_1', ['u:a', 'a:b', 'u:a'], 100);
      await store.recordHoldoutEntries('env_h', 'ho_1', ['u:a', 'u:c'], 200);
      const all = await store.holdoutEntries('ho_1', 0, 1000);
      expect(all.sort((x, y) => x.person.localeCompare(y.person))).toEqual([
        { person: 'a:b', entered_at: 100 },
        { person: 'u:a', entered_at: 100 },
        { person: 'u:c', entered_at: 200 },
      ]);
      expect(await store.holdoutEntries('ho_1', 150, 201)).toEqual([
        { person: 'u:c', entered_at: 200 },
      ]);
      // A person's keys, whenever they entered: the first one found through them.
      const of = await store.holdoutEntriesOf('ho_1', ['u:c', 'a:b', 'a:never', 'u:c']);
      expect(of.sort((x, y) => x.person.localeCompare(y.person))).toEqual([
        { person: 'a:b', entered_at: 100 },
        { person: 'u:c', entered_at: 200 },
      ]);
      expect(await store.holdoutEntriesOf('ho_2', ['u:c'])).toEqual([]);
    });

    it('HS03 links and conversion events are read by the people asked about only', async () => {
      const db = (store as KyselyStore).db;
      await db
        .insertInto('identity_links')
        .values([
          {
            env_id: 'env_h',
            key_type: 'user_id',
            key_value: 'u1',
            anonymous_id: 'b1',
            last_seen: 1,
          },
          {
            env_id: 'env_h',
            key_type: 'user_id',
            key_value: 'u2',
            anonymous_id: 'b2',
            last_seen: 1,
          },
          {
            env_id: 'env_h',
            key_type: 'email_sha256',
            key_value: 'e',
            anonymous_id: 'b3',
            last_seen: 1,
          },
        ])
        .execute();
      const links = await store.userLinks('env_h', ['u1'], ['b2', 'b3']);
      expect(links.sort((a, b) => a.user_id.localeCompare(b.user_id))).toEqual([
        { user_id: 'u1', anonymous_id: 'b1', last_seen: 1 },
        { user_id: 'u2', anonymous_id: 'b2', last_seen: 1 },
      ]);
      const event = (pk: string, over: Record<string, unknown>) => ({
        pk,
        env_id: 'env_h',
        event_name: 'Purchase',
        event_id: pk,
        event_time: NOW_S,
        received_at_ms: NOW_S * 1000,
        source: 'server',
        anonymous_id: null,
        user_id: null,
        value: 10,
        currency: 'EUR',
        data: '{}',
        duplicate_count: 0,
        traffic: null,
        is_test: 0,
        ...over,
      });
      await db
        .insertInto('events')
        .values([
          event('e1', { user_id: 'u1', anonymous_id: 'b1' }),
          event('e2', { anonymous_id: 'b1', value: null, currency: null }),
          event('e3', { user_id: 'u9' }),
          event('e4', { user_id: 'u1', event_name: 'Lead' }),
          event('e5', { user_id: 'u1', traffic: 'bot' }),
          event('e6', { user_id: 'u1', data: '{"test_code":"T1"}', is_test: 1 }),
          // A property of that name is the shop's own: the event counts.
          event('e8', { user_id: 'u1', data: '{"properties":{"test_code":"SPRING-A"}}' }),
          event('e7', { user_id: 'u1', event_time: NOW_S - 100 }),
        ])
        .execute();
      const rows = await store.liftEvents('env_h', ['Purchase'], NOW_S - 10, NOW_S + 10, {
        user_ids: ['u1'],
        anonymous_ids: ['b1'],
      });
      expect(rows.map((r) => r.pk).sort()).toEqual(['e1', 'e2', 'e8']);
      expect(rows.find((r) => r.pk === 'e1')).toEqual({
        pk: 'e1',
        time: NOW_S,
        user_id: 'u1',
        anonymous_id: 'b1',
        value: 10,
        currency: 'EUR',
      });
    });
  });
}
