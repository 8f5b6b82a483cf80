import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackedEvent } from '../../src/domain/event.js';
import { conversionIdOf, eventKey } from '../../src/domain/event-key.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { ConversionRecord, Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// 0039_conversions_by_event_dropped (issue 22): conversions keep no index on event_pk. Every
// read of one event's conversions (re-attribution, late copies, the debugger, a person's
// export and erasure) finds them by the primary key instead, from the id the event's key
// makes: the same rows, in every environment, on both stores.

const hasPostgres = await postgresAvailable();
const T = 1_763_900_000;
const MS = T * 1000;

function event(env_id: string, event_id: string): TrackedEvent {
  return {
    env_id,
    event_name: 'Purchase',
    event_id,
    event_time: T,
    source: 'server',
    user: { user_id: `u-${env_id}` },
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: null, analytics: null },
    warnings: [],
  };
}

function conversion(env_id: string, pk: string, dest_id: string): ConversionRecord {
  return {
    conversion_id: conversionIdOf(pk),
    dest_id,
    env_id,
    event_pk: pk,
    event_name: 'Purchase',
    event_id: pk,
    event_time: T,
    value: 10,
    currency: 'EUR',
    attribution: null,
    reason: 'no touch',
    created_at_ms: MS,
  };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`0039 on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const a = eventKey(MS, 'cbe-a');
    const b = eventKey(MS, 'cbe-b');
    const other = eventKey(MS, 'cbe-o');
    beforeAll(async () => {
      ({ store, dispose } = await open());
      await store.ingest(async (tx) => {
        for (const [pk, env] of [
          [a, 'env'],
          [b, 'env'],
          [other, 'env_other'],
        ] as const) {
          await tx.insertEvent(pk, event(env, pk), MS);
          for (const d of ['d1', 'd2']) await tx.putConversion(conversion(env, pk, d));
        }
      });
    });
    afterAll(async () => dispose?.());

    it('CE01 the event_pk index is gone; the other four remain', async () => {
      const db = (store as KyselyStore).db;
      const names =
        kind === 'sqlite'
          ? await sql<{ name: string }>`select name from sqlite_master
              where type = 'index' and tbl_name = 'conversions'`.execute(db)
          : await sql<{ name: string }>`select indexname as name from pg_indexes
              where tablename = 'conversions'`.execute(db);
      const found = names.rows.map((r) => r.name);
      expect(found).not.toContain('conversions_by_event');
      expect(found).toEqual(
        expect.arrayContaining(['conversions_by_time', 'conversions_report', 'conversions_fraud']),
      );
    });

    it('CE02 an event’s conversions, its trail and a person’s export answer the same rows', async () => {
      const rows = await store.ingest((tx) => tx.conversionsOfEvent('env', a));
      expect(rows.map((r) => [r.event_pk, r.dest_id]).sort()).toEqual([
        [a, 'd1'],
        [a, 'd2'],
      ]);
      expect(await store.ingest((tx) => tx.conversionsOfEvent('env', other))).toEqual([]);
      const trail = await store.eventTrail(other);
      expect(trail?.conversions.map((c) => [c.env_id, c.event_pk, c.dest_id]).sort()).toEqual([
        ['env_other', other, 'd1'],
        ['env_other', other, 'd2'],
      ]);
      const person = await store.findSubject({ env_id: 'env', user_id: 'u-env' });
      expect(person.conversions.map((c) => [c.event_pk, c.dest_id]).sort()).toEqual([
        [a, 'd1'],
        [a, 'd2'],
        [b, 'd1'],
        [b, 'd2'],
      ]);
    });
  });
}
