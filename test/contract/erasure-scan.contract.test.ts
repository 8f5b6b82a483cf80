import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TrackedEvent } from '../../src/domain/event.js';
import { eventToRow } from '../../src/store/kysely/row-mappers.js';
import { eraseSubject, scanSubject } from '../../src/store/kysely/subject-queries.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// An erasure finds the person's hashed e-mail and phone and cookie ids in the events' JSON,
// which no index holds: a scan of every event of the environment. It runs first outside the
// write transaction (SQLite: on the read thread); the transaction then searches again only
// the JSON that may have changed since, and reads by id what the scan found.

const NOW_MS = 1_800_000_000_000;
const DAY_MS = 86_400_000;
const EMAIL = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
/** Old events: far outside the transaction's second search. */
const OLD_EVENTS = 300;

function event(i: number, user: TrackedEvent['user']): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'Purchase',
    event_id: `e${i}`,
    event_time: NOW_MS / 1000 - 30 * 86_400,
    source: 'server',
    user,
    properties: {},
  } as unknown as TrackedEvent;
}

const pg = await postgresAvailable();
const kinds = Object.entries(STORE_KINDS).filter(([kind]) => kind !== 'postgres' || pg);

describe.each(kinds)('an erasure on %s', (kind, open) => {
  let store: KyselyStore;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await open());
    // The person's e-mail only in the JSON, on old events; other people's around them.
    const rows = Array.from({ length: OLD_EVENTS }, (_, i) =>
      eventToRow(
        `old${i}`,
        event(i, { email_sha256: i % 10 === 0 ? EMAIL : OTHER }),
        NOW_MS - 200 * DAY_MS + i,
      ),
    );
    await store.db.insertInto('events').values(rows).execute();
  });

  afterAll(async () => {
    await dispose?.();
  });

  it('ES01 what the scan found, and what changed after it, is erased; nothing else', async () => {
    const keys = { env_id: 'env', email_sha256: EMAIL };
    // Before the scan, a day-old event of someone else's ids; after it, a new event of the
    // person, and a later copy merged into the day-old one that adds the person's e-mail (a
    // copy merges for 48 h), as ingest stores a merge.
    await store.db
      .insertInto('events')
      .values(eventToRow('day1', event(1002, { anonymous_id: 'x-1' }), NOW_MS - DAY_MS))
      .execute();
    const scan = await scanSubject(store.db, keys, NOW_MS);
    expect(scan.pks).toHaveLength(OLD_EVENTS / 10);
    await store.db
      .insertInto('events')
      .values(eventToRow('new1', event(1001, { email_sha256: EMAIL }), NOW_MS + 5))
      .execute();
    await store.ingest((tx) =>
      tx.updateDuplicate(
        'day1',
        event(1002, { anonymous_id: 'x-1', email_sha256: EMAIL }),
        NOW_MS + 7,
      ),
    );
    // The old events' dedup keys; e0's key was claimed since by another event (a stale key
    // taken again): it is that event's, and stays.
    await store.db
      .insertInto('dedup_keys')
      .values(
        Array.from({ length: OLD_EVENTS }, (_, i) => ({
          env_id: 'env',
          event_name: 'Purchase',
          event_id: `e${i}`,
          event_pk: i === 0 ? 'someone-else' : `old${i}`,
          first_seen: NOW_MS / 1000,
        })),
      )
      .execute();
    const erased = await store.db
      .transaction()
      .execute((trx) => eraseSubject(trx, keys, () => [], NOW_MS, scan));
    expect(erased.deleted.events).toBe(OLD_EVENTS / 10 + 2);
    const left = await store.db.selectFrom('events').select('pk').execute();
    expect(left).toHaveLength(OLD_EVENTS - OLD_EVENTS / 10);
    expect(left.map((r) => r.pk)).not.toContain('day1');
    expect(erased.deleted.dedup_keys).toBe(OLD_EVENTS / 10 - 1);
    const keysLeft = await store.db.selectFrom('dedup_keys').select('event_pk').execute();
    expect(keysLeft).toHaveLength(OLD_EVENTS - OLD_EVENTS / 10 + 1);
    expect(keysLeft.map((r) => r.event_pk)).toContain('someone-else');
  });

  it('ES02 an id found only inside the transaction is searched in every event', async () => {
    // The scan knew the person by their e-mail; a browser id of theirs turns up only in the
    // transaction (an event of the person's, received after the scan, carries it), and an old
    // event holds that browser id in its JSON alone (a cookie id).
    const keys = { env_id: 'env', email_sha256: 'c'.repeat(64) };
    await store.db
      .insertInto('events')
      .values(
        eventToRow('old-cookie', event(2001, { cookie_id: 'cookie-9' }), NOW_MS - 300 * DAY_MS),
      )
      .execute();
    const scan = await scanSubject(store.db, keys, NOW_MS);
    expect(scan.pks).toEqual([]);
    await store.db
      .insertInto('events')
      .values(
        eventToRow(
          'late',
          event(2002, { email_sha256: 'c'.repeat(64), anonymous_id: 'cookie-9' }),
          NOW_MS + 10,
        ),
      )
      .execute();
    const erased = await store.db
      .transaction()
      .execute((trx) => eraseSubject(trx, keys, () => [], NOW_MS, scan));
    expect(erased.deleted.events).toBe(2);
  });

  it.runIf(kind === 'sqlite')(
    'ES03 inside the transaction no statement reads every event: the JSON is searched on the receipt and merge indexes',
    async () => {
      const keys = { env_id: 'env', email_sha256: OTHER };
      const scan = await scanSubject(store.db, keys, NOW_MS);
      expect(scan.pks.length).toBeGreaterThan(100);
      const sent: CompiledQuery[] = [];
      await store.db.transaction().execute((trx) => {
        const run = vi.spyOn(trx.getExecutor(), 'executeQuery');
        return eraseSubject(trx, keys, () => [], NOW_MS, scan).finally(() => {
          sent.push(...run.mock.calls.map(([q]) => q));
          run.mockRestore();
        });
      });
      const reads = sent.filter((q) => /^\s*select/i.test(q.sql) && /from "events"/.test(q.sql));
      expect(reads.length).toBeGreaterThan(0);
      const scans: string[] = [];
      for (const q of reads) {
        const plan = await store.db.executeQuery<{ detail: string }>(
          CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
        );
        for (const { detail } of plan.rows) if (/^SCAN/.test(detail)) scans.push(detail);
      }
      expect(scans).toEqual([]);
    },
  );
});
