import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { conversionIdOf, eventKey } from '../../src/domain/event-key.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { listPartitions, PARTITIONED, partitionName } from '../../src/store/partitions.js';
import type { ConversionRecord, Store } from '../../src/store/store.js';
import { dedupKey } from '../helpers/stored-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const T = 1_763_900_000;
const MS = T * 1000;
const hasPostgres = await postgresAvailable();
if (!hasPostgres)
  console.warn('store contract: PostgreSQL not reachable on 127.0.0.1:5432, its suite is skipped');

function touch(over: Partial<Touch> = {}): Touch {
  return {
    env_id: 'env',
    kind: 'impression',
    touch_id: 'IMP-1',
    dest_id: 'd1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time: T - 60,
    anonymous_id: 'anon-1',
    user_id: null,
    ip: '203.0.113.9',
    user_agent: 'UA',
    ...over,
  };
}

function event(over: Partial<TrackedEvent> = {}): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'Purchase',
    event_id: 'ord-1',
    event_time: T,
    source: 'server',
    user: { anonymous_id: 'anon-1' },
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
}

function conversion(id: string, over: Partial<ConversionRecord> = {}): ConversionRecord {
  return {
    conversion_id: id,
    dest_id: 'd1',
    env_id: 'env',
    event_pk: `ev_${id}`,
    event_name: 'Purchase',
    event_id: `ord-${id}`,
    event_time: T,
    value: 10,
    currency: 'EUR',
    attribution: {
      type: 'view',
      imp_id: 'IMP-1',
      click_id: null,
      campaign_id: 'c1',
      creative_id: null,
      placement_id: null,
      touch_time: T - 60,
      match_key: 'cookie',
      match_type: 'deterministic',
      window: '1d',
      model: 'last_touch',
    },
    reason: null,
    created_at_ms: MS,
    ...over,
  };
}

/** Stores an event with its conversion and queued delivery, as the ingest path does. */
/** When the next pending row falls due: read directly, as no caller of the store needs it. */
async function nextDueAt(store: Store): Promise<number | null> {
  const row = await (store as KyselyStore).db
    .selectFrom('outbox')
    .select((eb) => eb.fn.min('next_attempt_at_ms').as('at'))
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

/** An event, its conversion (the id made from its key, as ingest makes it) and a delivery. */
async function queued(store: Store, id: string, createdMs = MS) {
  const pk = `ev_${id}`;
  const cv = conversionIdOf(pk);
  await store.ingest(async (tx) => {
    await tx.insertEvent(pk, event({ event_id: `ord-${id}` }), createdMs);
    await tx.putConversion(
      conversion(cv, { event_pk: pk, event_id: `ord-${id}`, created_at_ms: createdMs }),
    );
    await tx.enqueueDelivery('env', cv, 'd1', createdMs);
  });
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Store contract on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('S01 migrations are idempotent and the store answers', async () => {
      await store.migrate();
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('S02 touches are found by every key, newest first, and not before `since`', async () => {
      await store.insertTouches([
        touch({ touch_id: 'IMP-A', time: T - 100 }),
        touch({
          touch_id: 'IMP-B',
          time: T - 50,
          anonymous_id: null,
          user_id: 'u1',
          ip: '198.51.100.1',
        }),
        touch({ touch_id: 'IMP-OLD', time: T - 99_999 }),
      ]);
      const found = await store.ingest((tx) =>
        tx.findTouches({
          env_id: 'env',
          user_id: 'u1',
          anonymous_ids: ['anon-1'],
          touch_ids: [],
          since: T - 1000,
        }),
      );
      expect(found.map((t) => t.touch_id).sort()).toEqual(['IMP-A', 'IMP-B']);
      const byId = await store.ingest((tx) =>
        tx.findTouches({ env_id: 'env', anonymous_ids: [], touch_ids: ['IMP-OLD'], since: 0 }),
      );
      expect(byId).toHaveLength(1);
      expect(byId[0]).toEqual(touch({ touch_id: 'IMP-OLD', time: T - 99_999 }));
      const byIp = await store.ingest((tx) =>
        tx.findTouches({
          env_id: 'env',
          anonymous_ids: [],
          touch_ids: [],
          ip: '198.51.100.1',
          since: 0,
        }),
      );
      expect(byIp.map((t) => t.touch_id)).toEqual(['IMP-B']);
      const otherEnv = await store.ingest((tx) =>
        tx.findTouches({ env_id: 'other', anonymous_ids: ['anon-1'], touch_ids: [], since: 0 }),
      );
      expect(otherEnv).toEqual([]);
    });

    it('S02c by IP address, touches since ip_since, and of the older ones the newest ad touch', async () => {
      const ip = '198.51.100.77';
      // An environment of its own: S07 counts the touches of `env`.
      const at = { env_id: 'env-ip', anonymous_id: null, ip };
      await store.insertTouches([
        touch({ touch_id: 'IMP-IP-IN', time: T - 100, ...at }),
        touch({ touch_id: 'VIS-IP-IN', kind: 'visit', time: T - 200, ...at }),
        touch({ touch_id: 'IMP-IP-NEAR', time: T - 5_000, ...at }),
        touch({ touch_id: 'VIS-IP-OLD', kind: 'visit', time: T - 4_000, ...at }),
        touch({ touch_id: 'IMP-IP-OLD', time: T - 9_000, ...at }),
      ]);
      const lookup = {
        env_id: 'env-ip',
        anonymous_ids: [],
        touch_ids: [],
        ip,
        since: T - 10_000,
        ip_since: T - 1_000,
      };
      const ids = (found: Touch[]) => found.map((t) => t.touch_id).sort();
      const want = ['IMP-IP-IN', 'IMP-IP-NEAR', 'VIS-IP-IN'];
      const first = await store.ingest((tx) => tx.findTouches(lookup));
      expect(ids(first)).toEqual(want);
      // Read again (SQLite: the rows read before, by id), the same touches in the same order.
      expect(await store.ingest((tx) => tx.findTouches(lookup))).toEqual(first);
      // A touch new since (SQLite: its row read by id, the others' from memory), newest first.
      await store.insertTouches([touch({ touch_id: 'IMP-IP-NEW', time: T - 50, ...at })]);
      const again = await store.ingest((tx) => tx.findTouches(lookup));
      expect(ids(again)).toEqual([...want, 'IMP-IP-NEW'].sort());
      expect(again[0]?.touch_id).toBe('IMP-IP-NEW');
      const many = await store.ingest(async (tx) => tx.setWise?.findTouchesMany([lookup]));
      if (many) expect(ids(many[0] ?? [])).toEqual([...want, 'IMP-IP-NEW'].sort());
    });

    it('S02d a touch read by address in a transaction that rolled back is not read again in place of the next', async () => {
      // SQLite gives a rolled-back row's id again: a touch read under that id before must
      // not stand in for the one stored under it now. An address read before (SQLite: its ids
      // read first) and one not (its rows read whole).
      for (const [ip, readBefore] of [
        ['198.51.100.78', false],
        ['198.51.100.79', true],
      ] as const) {
        const env_id = `env-ip-rb-${readBefore}`;
        const at = { env_id, anonymous_id: null, ip, time: T - 100 };
        const lookup = { env_id, anonymous_ids: [], touch_ids: [], ip, since: 0 };
        if (readBefore) expect(await store.ingest((tx) => tx.findTouches(lookup))).toEqual([]);
        await expect(
          store.ingest(async (tx) => {
            await tx.insertTouches([touch({ touch_id: 'IMP-RB-GONE', ...at })]);
            expect((await tx.findTouches(lookup)).map((t) => t.touch_id)).toEqual(['IMP-RB-GONE']);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        await store.ingest((tx) => tx.insertTouches([touch({ touch_id: 'IMP-RB-KEPT', ...at })]));
        const found = await store.ingest((tx) => tx.findTouches(lookup));
        expect(found.map((t) => t.touch_id)).toEqual(['IMP-RB-KEPT']);
      }
    });

    it('S02e a touch deleted behind the store (by another process) never stands in for a newer one', async () => {
      // Lookups by address may keep touches by id (SQLite's TouchCache): that holds only while
      // an id names one touch for good. An erasure or purge by another process (the CLI, a
      // second server) deletes rows this one does not hear of; the next touch stored must not
      // be given the deleted newest one's id (AUTOINCREMENT), nor be read as it.
      const ip = '198.51.100.80';
      const at = { env_id: 'env-ip-del', anonymous_id: null, ip };
      const lookup = { env_id: 'env-ip-del', anonymous_ids: [], touch_ids: [], ip, since: 0 };
      await store.insertTouches([
        touch({ touch_id: 'IMP-DEL-OLD', time: T - 300, ...at }),
        touch({ touch_id: 'IMP-DEL-GONE', time: T - 100, ...at }),
      ]);
      const ids = async () =>
        (await store.ingest((tx) => tx.findTouches(lookup))).map((t) => t.touch_id);
      expect(await ids()).toEqual(['IMP-DEL-GONE', 'IMP-DEL-OLD']);
      // Deleted through the connection alone, as another process would: no store method runs.
      await (store as KyselyStore).db
        .deleteFrom('touches')
        .where('touch_id', '=', 'IMP-DEL-GONE')
        .execute();
      await store.insertTouches([touch({ touch_id: 'IMP-DEL-NEW', time: T - 50, ...at })]);
      expect(await ids()).toEqual(['IMP-DEL-NEW', 'IMP-DEL-OLD']);
    });

    it('S02b touch values come back exactly as written, whatever their characters', async () => {
      // PostgreSQL receives a batch as one array literal per column: quotes, backslashes,
      // braces, commas, the word NULL and non-ASCII text must survive it.
      const odd = [
        'say "hi", {x}\\y',
        'NULL',
        '',
        'caf\u00e9 \u{1f600} \u65e5\u672c',
        ' spaced ',
        "it's",
      ];
      const written = odd.map((v, i) =>
        touch({
          env_id: 'env-odd',
          touch_id: `IMP-ODD-${i}`,
          time: T - 10 - i,
          campaign_id: v,
          creative_id: i % 2 ? null : v,
          user_agent: v,
          traffic: i === 1 ? 'bot' : undefined,
        }),
      );
      await store.insertTouches(written);
      for (const [i, t] of written.entries()) {
        const [back] = await store.ingest((tx) =>
          tx.findTouches({
            env_id: 'env-odd',
            anonymous_ids: [],
            touch_ids: [`IMP-ODD-${i}`],
            since: 0,
          }),
        );
        expect(back).toEqual(t);
      }
    });

    it('S03b identity links of several keys at once: each key finds every browser it was seen with', async () => {
      const email = 'a'.repeat(64);
      const phone = 'b'.repeat(64);
      await store.ingest(async (tx) => {
        await tx.linkIdentity(
          'env_ids',
          [
            { key_type: 'email', key_value: email },
            { key_type: 'phone', key_value: phone },
          ],
          'anon-1',
          T,
        );
        await tx.linkIdentity('env_ids', [{ key_type: 'phone', key_value: phone }], 'anon-2', T);
        // Seen again: no second row.
        await tx.linkIdentity(
          'env_ids',
          [{ key_type: 'email', key_value: email }],
          'anon-1',
          T + 9,
        );
        await tx.linkIdentity('env_other', [{ key_type: 'email', key_value: email }], 'anon-3', T);
      });
      const linked = await store.ingest((tx) =>
        tx.findLinkedAnonymousIds('env_ids', [
          { key_type: 'email', key_value: email },
          { key_type: 'phone', key_value: phone },
          { key_type: 'email', key_value: 'c'.repeat(64) },
        ]),
      );
      const key = (l: { anonymous_id: string; via: string }) => `${l.via} ${l.anonymous_id}`;
      expect(linked.map(key).sort()).toEqual(['email anon-1', 'phone anon-1', 'phone anon-2']);
      const byPhone = await store.ingest((tx) =>
        tx.findLinkedAnonymousIds('env_ids', [{ key_type: 'phone', key_value: phone }]),
      );
      expect(byPhone.map(key).sort()).toEqual(['phone anon-1', 'phone anon-2']);
    });

    it('S03 events, dedup keys, duplicates and identity links round-trip', async () => {
      await store.ingest(async (tx) => {
        const claim = (pk: string, event_id: string, at_s: number, stale_before: number) =>
          tx.claimAndInsertEvent(pk, event({ event_id }), at_s * 1000, stale_before);
        expect(await claim('ev_x', 'dup-1', T, T - 100)).toBeNull();
        expect(await claim('ev_y', 'dup-1', T + 5, T - 100)).toBe('ev_x');
        expect(await claim('ev_o', 'old-1', T - 500, 0)).toBeNull();
        expect(await claim('ev_n', 'old-1', T, T - 100)).toBeNull();
        await tx.linkIdentity(
          'env',
          [{ key_type: 'email', key_value: 'e'.repeat(64) }],
          'anon-9',
          T,
        );
        await tx.linkIdentity(
          'env',
          [{ key_type: 'email', key_value: 'e'.repeat(64) }],
          'anon-9',
          T + 1,
        );
      });
      const got = {
        dedup: await dedupKey(store, 'env', 'Purchase', 'dup-1'),
        missing: await dedupKey(store, 'env', 'Lead', 'dup-1'),
        linked: await store.ingest((tx) =>
          tx.findLinkedAnonymousIds('env', [{ key_type: 'email', key_value: 'e'.repeat(64) }]),
        ),
      };
      expect(got).toEqual({
        dedup: { event_pk: 'ev_x', first_seen: T },
        missing: null,
        linked: [{ anonymous_id: 'anon-9', via: 'email' }],
      });
      const merged = event({ event_id: 'dup-1', user: { anonymous_id: 'anon-1', user_id: 'u7' } });
      await store.ingest((tx) => tx.updateDuplicate('ev_x', merged));
      const stored = await store.ingest((tx) => tx.getEvent('ev_x'));
      expect(stored).toMatchObject({
        pk: 'ev_x',
        duplicate_count: 1,
        received_at_ms: MS,
        event: merged,
      });
    });

    it('S04 a failed ingest transaction leaves nothing behind', async () => {
      await expect(
        store.ingest(async (tx) => {
          await tx.insertEvent('ev_rollback', event({ event_id: 'rb' }), MS);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.ingest((tx) => tx.getEvent('ev_rollback'))).toBeNull();
    });

    it('S05 concurrent claims never take one row twice; leases expire', async () => {
      for (let i = 0; i < 40; i++) await queued(store, `c${i}`);
      const claims = await Promise.all([
        store.claimDeliveries(MS, 20, 60_000, 'w-a', new Set()),
        store.claimDeliveries(MS, 20, 60_000, 'w-b', new Set()),
        store.claimDeliveries(MS, 20, 60_000, 'w-c', new Set()),
      ]);
      const ids = claims.flat().map((d) => d.outbox.id);
      expect(new Set(ids).size).toBe(ids.length);
      // One destination is worked by one claimer at a time, oldest rows first.
      expect(claims.filter((c) => c.length > 0)).toHaveLength(1);
      const a = claims.find((c) => c.length > 0) ?? [];
      const owner = ['w-a', 'w-b', 'w-c'][claims.indexOf(a)];
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      expect(ids).toHaveLength(20);
      expect(a[0]?.event).toMatchObject({ event_name: 'Purchase' });
      expect(await store.claimDeliveries(MS + 1000, 50, 60_000, 'w-d', new Set())).toEqual([]);
      // A renewed lease outlives the original one; another owner cannot renew it.
      const aIds = a.map((d) => d.outbox.id);
      expect((await store.extendLeases(owner, aIds, MS + 120_000)).sort()).toEqual(
        [...aIds].sort(),
      );
      expect(await store.extendLeases('w-x', aIds, MS + 999_000)).toEqual([]);
      const stillHeld = await store.claimDeliveries(MS + 61_000, 50, 60_000, 'w-e', new Set());
      expect(stillHeld).toHaveLength(0);
      expect(await store.releaseLeases(['w-e'])).toBe(0);
      expect(await store.releaseLeases([owner])).toBe(a.length);
      const again = await store.claimDeliveries(MS + 61_000, 50, 60_000, 'w-d', new Set());
      expect(again).toHaveLength(40);
      expect((await store.leaseOwners(MS + 61_000)).sort()).toEqual(['w-d']);
      expect(await store.releaseLeases(['w-d'])).toBe(40);
      expect(await store.leaseOwners(MS + 61_000)).toEqual([]);
    });

    it('S06 attempts move rows on; paused destinations are not claimed', async () => {
      await store.setDestinationPaused('env', 'd1', true, 'HTTP 401', MS);
      expect(await store.claimDeliveries(MS + 120_000, 50, 1000, 'w', new Set(['env/d1']))).toEqual(
        [],
      );
      expect(await store.pausedDestinations()).toEqual([
        { env_id: 'env', dest_id: 'd1', reason: 'HTTP 401' },
      ]);
      await store.setDestinationPaused('env', 'd1', false, null, MS);
      const rows = await store.claimDeliveries(MS + 120_000, 3, 1000, 'w', new Set());
      const attempt = (id: number, verdict: string) => ({
        outbox_id: id,
        env_id: 'env',
        at_ms: MS + 120_000,
        duration_ms: 5,
        status_code: 500,
        error: 'HTTP 500',
        verdict,
        response_excerpt: '{}',
      });
      await store.finishAttempts([
        { attempt: attempt(rows[0].outbox.id, 'done'), update: { status: 'delivered' } },
        {
          attempt: attempt(rows[1].outbox.id, 'retry'),
          update: { status: 'pending', next_attempt_at_ms: MS + 999_000 },
        },
        { attempt: attempt(rows[2].outbox.id, 'dead-letter'), update: { status: 'dead' } },
      ]);
      const d = await store.getDelivery(rows[1].outbox.id);
      expect(d?.outbox).toMatchObject({
        status: 'pending',
        attempts: 1,
        first_attempt_at_ms: MS + 120_000,
        next_attempt_at_ms: MS + 999_000,
        last_status: 500,
      });
      expect(d?.attempts).toHaveLength(1);
      expect((await store.getDelivery(rows[0].outbox.id))?.outbox.delivered_at_ms).toBe(
        MS + 120_005,
      );
      expect(await store.retryDelivery(rows[2].outbox.id, MS)).toBe(true);
      expect(await store.retryDelivery(rows[0].outbox.id, MS)).toBe(false);
      expect(await nextDueAt(store)).toBe(MS);
    });

    it('S07 lists filter, replay re-queues a range, counts add up, purge deletes old rows', async () => {
      await queued(store, 'late', MS + 3_600_000);
      const dead = await store.listDeliveries({ status: 'delivered', limit: 10 });
      expect(dead).toHaveLength(1);
      const convs = await store.listConversions({ env_id: 'env', since_ms: MS + 1, limit: 10 });
      expect(convs.map((c) => c.conversion_id)).toEqual(['cv_late']);
      expect(await store.ingest((tx) => tx.conversionsOfEvent('env', 'ev_late'))).toHaveLength(1);
      expect(await store.requeueRange('env', 'd1', MS, MS + 1, MS)).toBe(40);
      const counts = await store.counts('env');
      expect(counts).toMatchObject({
        touches: 3,
        impressions: 3,
        clicks: 0,
        conversions: 41,
        attributed: 41,
        outbox_delivered: 0,
        outbox_pending: 41,
      });
      expect(counts.events).toBeGreaterThanOrEqual(42);
      expect(counts.duplicates).toBe(1);
      // Cutoffs at a day boundary: PostgreSQL drops whole days, SQLite deletes rows.
      const day = Math.floor(T / 86_400) * 86_400;
      expect(
        await store.purge({ touches_before_s: day, events_before_ms: 0, dedup_before_s: T + 1 }),
      ).toMatchObject({ touches: 1, events: 0, dedup_keys: 2 });
      expect((await store.counts('env')).touches).toBe(2);
    });

    it('S08 events are found by a timed key; retention drops old days of touches and events', async () => {
      const DAY = 86_400_000;
      const today = Math.floor(MS / DAY) * DAY;
      const at = (days: number) => today - days * DAY + 3_600_000;
      await store.ensurePartitions(at(0));
      await store.ensurePartitions(at(30)); // days 30..27 ago get partitions of their own
      const keys = [0, 1, 30, 500].map((d) => eventKey(at(d), `r${d}`));
      await store.ingest(async (tx) => {
        for (const [i, d] of [0, 1, 30, 500].entries())
          await tx.insertEvent(keys[i], event({ event_id: `ret-${d}` }), at(d));
      });
      await store.insertTouches(
        [0, 1, 30, 500].map((d) =>
          touch({ touch_id: `RET-${d}`, time: Math.floor(at(d) / 1000), env_id: 'ret' }),
        ),
      );
      for (const k of keys) expect((await store.ingest((tx) => tx.getEvent(k)))?.pk).toBe(k);
      await store.ingest((tx) =>
        tx.updateDuplicate(keys[1], event({ event_id: 'ret-1', user: { user_id: 'u-ret' } })),
      );
      expect(await store.ingest((tx) => tx.getEvent(keys[1]))).toMatchObject({
        duplicate_count: 1,
        event: { user: { user_id: 'u-ret' } },
      });
      await expect(
        store.ingest((tx) => tx.insertEvent(eventKey(at(0), 'x'), event(), at(0) + 1)),
      ).rejects.toThrow(/carries/);

      const before = await store.counts();
      // Keep 10 days of events and 60 of touches, as seen at (now).
      const report = await store.purge({
        touches_before_s: Math.floor((today - 60 * DAY) / 1000),
        events_before_ms: today - 10 * DAY,
        dedup_before_s: 0,
      });
      expect(report).toMatchObject({ touches: 1, events: 2 });
      const after = await store.counts();
      expect(before.events - after.events).toBe(2);
      expect(before.touches - after.touches).toBe(1);
      expect(await store.ingest((tx) => tx.getEvent(keys[0]))).not.toBeNull();
      expect(await store.ingest((tx) => tx.getEvent(keys[2]))).toBeNull();
      const found = await store.ingest((tx) =>
        tx.findTouches({
          env_id: 'ret',
          anonymous_ids: ['anon-1'],
          touch_ids: [],
          since: 0,
        }),
      );
      expect(found.map((t) => t.touch_id).sort()).toEqual(['RET-0', 'RET-1', 'RET-30']);
      if (kind === 'postgres') {
        // Days 30..27 ago were partitions of their own, past the event cutoff: dropped whole.
        // Day 500 had none and waited in DEFAULT, where it was deleted by row.
        expect(report.partitions_dropped).toBe(4);
        const pg = store as unknown as { db: Parameters<typeof listPartitions>[0] };
        const parts = await listPartitions(pg.db, PARTITIONED[1]);
        expect(parts).toContain('events_default');
        // migrate() made the real today's; the injected today's rows came first, into DEFAULT.
        expect(parts).toContain(partitionName(PARTITIONED[1], Math.floor(Date.now() / DAY) * DAY));
        expect(parts).not.toContain(partitionName(PARTITIONED[1], today - 30 * DAY));
        const touchParts = await listPartitions(pg.db, PARTITIONED[0]);
        expect(touchParts).toContain(partitionName(PARTITIONED[0], today - 30 * DAY));
      } else {
        expect(report.partitions_dropped).toBe(0);
      }
    });

    it("S09 a destination's rows are claimed in order, never past an older row backing off", async () => {
      const put = async (id: string, dest: string) =>
        store.ingest(async (tx) => {
          await tx.insertEvent(`ev_${id}`, event({ env_id: 'env_h', event_id: id }), MS);
          await tx.putConversion(conversion(id, { env_id: 'env_h', dest_id: dest }));
          await tx.enqueueDelivery('env_h', id, dest, MS);
        });
      for (const [id, dest] of [
        ['h1', 'a'],
        ['h2', 'a'],
        ['h3', 'a'],
        ['h4', 'b'],
      ])
        await put(id, dest);
      // The rows of earlier tests (env/d1) are left aside.
      const others = new Set(['env/d1']);
      const only = (rows: { outbox: { env_id: string; conversion_id: string } }[]) =>
        rows.filter((r) => r.outbox.env_id === 'env_h').map((r) => r.outbox.conversion_id);
      const first = await store.claimDeliveries(MS, 2, 60_000, 'w-h', others);
      expect(only(first)).toEqual(['h1', 'h2']);
      await store.finishAttempts([
        {
          attempt: {
            outbox_id: first[0].outbox.id,
            env_id: 'env_h',
            at_ms: MS,
            duration_ms: 1,
            status_code: 503,
            error: 'HTTP 503',
            verdict: 'retry',
            response_excerpt: null,
          },
          update: { status: 'pending', next_attempt_at_ms: MS + 10_000 },
        },
      ]);
      // h2 goes back unsent; it and h3 wait behind h1, while destination b is not held up.
      expect(await store.extendLeases('w-h', [first[1].outbox.id], MS - 1)).toEqual([
        first[1].outbox.id,
      ]);
      const during = await store.claimDeliveries(MS + 1, 50, 60_000, 'w-h', others);
      expect(only(during)).toEqual(['h4']);
      const after = await store.claimDeliveries(MS + 10_000, 50, 60_000, 'w-h2', others);
      expect(only(after)).toEqual(['h1', 'h2', 'h3']);
    });

    it('S09 an event claimed and inserted at once; a conversion written with its path and deliveries', async () => {
      const pk = eventKey(MS, 'ci1');
      const cv = conversionIdOf(pk);
      const e = event({ env_id: 'env_ci', event_id: 'ci-1' });
      expect(await store.ingest((tx) => tx.claimAndInsertEvent(pk, e, MS, T - 100))).toBeNull();
      // A lost claim answers the holder and stores nothing under its own key.
      const lost = eventKey(MS + 2000, 'ci2');
      expect(await store.ingest((tx) => tx.claimAndInsertEvent(lost, e, MS + 2000, T - 100))).toBe(
        pk,
      );
      expect((await store.ingest((tx) => tx.getEvent(pk)))?.event.event_id).toBe('ci-1');
      expect(await store.ingest((tx) => tx.getEvent(lost))).toBeNull();
      // A stale holder is taken over.
      const later = eventKey(MS + 5000, 'ci3');
      expect(
        await store.ingest((tx) => tx.claimAndInsertEvent(later, e, MS + 5000, T + 1)),
      ).toBeNull();
      expect(await store.ingest((tx) => tx.getEvent(later))).not.toBeNull();

      const path = {
        env_id: 'env_ci',
        conversion_id: cv,
        event_pk: pk,
        event_name: 'Purchase',
        event_time: T,
        value: 10,
        currency: 'EUR',
        lookback_s: 86_400,
        touches: [],
        created_at_ms: MS,
      };
      const rows = ['d1', 'd2'].map((dest_id) =>
        conversion(cv, { env_id: 'env_ci', dest_id, event_pk: pk }),
      );
      await store.ingest((tx) =>
        tx.recordConversion(path, rows, [
          { env_id: 'env_ci', conversion_id: cv, dest_id: 'd1', now_ms: MS, due_ms: MS },
          {
            env_id: 'env_ci',
            conversion_id: cv,
            dest_id: 'd2',
            now_ms: MS,
            due_ms: MS + 500,
            raw_ip: '203.0.113.7',
          },
        ]),
      );
      expect(await store.getConversionPath('env_ci', cv)).toMatchObject({
        lookback_s: 86_400,
      });
      const convs = await store.ingest((tx) => tx.conversionsOfEvent('env_ci', pk));
      expect(convs.map((c) => c.dest_id).sort()).toEqual(['d1', 'd2']);
      const out = await store.listDeliveries({ env_id: 'env_ci', limit: 10 });
      expect(out.map((o) => [o.dest_id, o.status, o.next_attempt_at_ms]).sort()).toEqual([
        ['d1', 'pending', MS],
        ['d2', 'pending', MS + 500],
      ]);
    });

    it('S10 a late copy reads, queues again and cancels the rows of one conversion; failed_for round-trips', async () => {
      const E = 'env_lc';
      await store.ingest(async (tx) => {
        await tx.insertEvent('ev_lc', event({ env_id: E, event_id: 'lc-1' }), MS);
        for (const dest_id of ['a', 'b', 'c', 'd']) {
          await tx.putConversion(conversion('cv_lc', { env_id: E, dest_id, event_pk: 'ev_lc' }));
          await tx.enqueueDelivery(E, 'cv_lc', dest_id, MS, MS, '203.0.113.7');
        }
      });
      const rows = (await store.claimDeliveries(MS, 1000, 60_000, 'w-lc', new Set())).filter(
        (r) => r.outbox.env_id === E,
      );
      const id = (dest: string) => rows.find((r) => r.outbox.dest_id === dest)?.outbox.id ?? 0;
      const attempt = (outbox_id: number) => ({
        outbox_id,
        env_id: E,
        at_ms: MS,
        duration_ms: 0,
        status_code: null,
        error: 'no match key',
        verdict: 'drop',
        response_excerpt: null,
      });
      await store.finishAttempts([
        { attempt: attempt(id('a')), update: { status: 'delivered' } },
        { attempt: attempt(id('b')), update: { status: 'failed', failed_for: 'identifiers' } },
        { attempt: attempt(id('c')), update: { status: 'failed' } },
      ]);
      // d is still leased by w-lc (in flight): neither queued again nor cancelled.
      const read = await store.ingest((tx) => tx.deliveriesOfConversion(E, 'cv_lc'));
      expect(read.map((r) => [r.dest_id, r.status, r.failed_for ?? null])).toEqual([
        ['a', 'delivered', null],
        ['b', 'failed', 'identifiers'],
        ['c', 'failed', null],
        ['d', 'pending', null],
      ]);
      const queued = await store.ingest((tx) =>
        tx.requeueDeliveries([id('a'), id('b'), id('d')], MS + 5000, MS + 10, '198.51.100.4'),
      );
      expect(queued.sort()).toEqual([id('a'), id('b')].sort());
      const b = await store.getDelivery(id('b'));
      expect(b?.outbox).toMatchObject({
        status: 'pending',
        attempts: 0,
        next_attempt_at_ms: MS + 5000,
        failed_for: null,
        delivered_at_ms: null,
      });
      const again = await store.claimDeliveries(MS + 5000, 1000, 60_000, 'w-lc2', new Set());
      const sentAgain = again.find((r) => r.outbox.id === id('b'));
      expect(sentAgain?.event.user.ip).toBe('198.51.100.4');
      await store.extendLeases('w-lc2', [id('a'), id('b')], MS);

      const cancelled = await store.ingest((tx) =>
        tx.cancelDeliveries([id('a'), id('b'), id('c'), id('d')], 'consent', 'withdrawn', MS + 20),
      );
      // a and b are pending and free; c is done; d is still in flight.
      expect(cancelled.sort()).toEqual([id('a'), id('b')].sort());
      const a = await store.getDelivery(id('a'));
      expect(a?.outbox).toMatchObject({
        status: 'failed',
        failed_for: 'consent',
        last_error: 'withdrawn',
      });
      expect(a?.attempts.at(-1)).toMatchObject({ verdict: 'cancelled', error: 'withdrawn' });
      expect((await store.getDelivery(id('d')))?.outbox.status).toBe('pending');
    });

    it('S11 clear name and address values ride on their outbox row only, and go when it is done', async () => {
      const E = 'env_cu';
      const CLEAR = JSON.stringify({ first_name: 'Mary', last_name: 'Smith', country: 'US' });
      const LATER = JSON.stringify({ first_name: 'Maria', last_name: 'Smith' });
      const path = {
        env_id: E,
        conversion_id: 'cv_cu',
        event_pk: 'ev_cu',
        event_name: 'Purchase',
        event_time: T,
        value: 10,
        currency: 'EUR',
        lookback_s: 86_400,
        touches: [],
        created_at_ms: MS,
      };
      const request = (dest_id: string, clear_user?: string) => ({
        env_id: E,
        conversion_id: `cv_cu_${dest_id}`,
        dest_id,
        now_ms: MS,
        due_ms: MS,
        ...(clear_user ? { clear_user } : {}),
      });
      await store.ingest(async (tx) => {
        await tx.insertEvent('ev_cu', event({ env_id: E, event_id: 'cu-1' }), MS);
        for (const dest_id of ['li', 'meta', 'set', 'one']) {
          const c = `cv_cu_${dest_id}`;
          await tx.putConversion(conversion(c, { env_id: E, dest_id, event_pk: 'ev_cu' }));
        }
        await tx.recordConversion(path, [], [request('li', CLEAR), request('meta')]);
        // PostgreSQL's set-wise ingest writes the same rows through its own statement.
        const rows = { path, conversions: [], deliveries: [request('set', CLEAR)] };
        if (tx.setWise) await tx.setWise.recordConversions([rows]);
        else await tx.recordConversion(path, [], rows.deliveries);
        await tx.enqueueDelivery(E, 'cv_cu_one', 'one', MS, MS, undefined, CLEAR);
      });
      const claim = async (owner: string, at = MS) =>
        (await store.claimDeliveries(at, 1000, 60_000, owner, new Set())).filter(
          (r) => r.outbox.env_id === E,
        );
      const first = await claim('w-cu');
      const clearOf = (dest: string, rows = first) =>
        rows.find((r) => r.outbox.dest_id === dest)?.event.clear_user;
      expect(clearOf('li')).toEqual(JSON.parse(CLEAR));
      expect(clearOf('set')).toEqual(JSON.parse(CLEAR));
      expect(clearOf('one')).toEqual(JSON.parse(CLEAR));
      expect(clearOf('meta')).toBeUndefined();
      // Never in the stored event, nor in an outbox record the admin API lists.
      const stored = await store.ingest((tx) => tx.getEvent('ev_cu'));
      expect(JSON.stringify(stored)).not.toContain('Mary');
      expect(JSON.stringify(await store.listDeliveries({ env_id: E, limit: 10 }))).not.toContain(
        'Mary',
      );

      const id = (dest: string) => first.find((r) => r.outbox.dest_id === dest)?.outbox.id ?? 0;
      const done = (outbox_id: number, status: 'delivered' | 'dead' | 'pending') => ({
        attempt: {
          outbox_id,
          env_id: E,
          at_ms: MS,
          duration_ms: 1,
          status_code: 200,
          error: null,
          verdict: 'done',
          response_excerpt: null,
        },
        update:
          status === 'pending'
            ? { status, next_attempt_at_ms: MS + 100 }
            : ({ status } as { status: 'delivered' | 'dead' }),
      });
      await store.finishAttempts([
        done(id('li'), 'delivered'),
        done(id('set'), 'dead'),
        done(id('one'), 'pending'),
      ]);
      // A later copy's values reach a row still waiting, not one already done.
      await store.ingest(async (tx) => {
        await tx.setClearUser(id('one'), LATER);
        await tx.setClearUser(id('li'), LATER);
      });
      await store.ingest((tx) => tx.requeueDeliveries([id('li'), id('set')], MS + 200, MS + 200));
      const second = await claim('w-cu2', MS + 200);
      expect(clearOf('one', second)).toEqual(JSON.parse(LATER));
      expect(clearOf('li', second)).toBeUndefined();
      expect(clearOf('set', second)).toBeUndefined();
    });

    it('S12 the import ledger answers which keys an import stored, keeps the first time, goes with the events', async () => {
      const keys = [
        { event_name: 'Purchase', event_id: 'POS-1' },
        { event_name: 'Purchase', event_id: 'POS-2' },
        { event_name: 'Lead', event_id: 'POS-1' },
      ];
      expect(await store.importedKeys('env', keys)).toEqual([false, false, false]);
      await store.rememberImported('env', [keys[0], keys[0], keys[2]], MS);
      // Noted again later: the key keeps its first time, so it goes with the first import's events.
      await store.rememberImported('env', [keys[0], keys[1]], MS + 10_000);
      expect(await store.importedKeys('env', keys)).toEqual([true, true, true]);
      expect(await store.importedKeys('other-env', keys)).toEqual([false, false, false]);
      const many = Array.from({ length: 1_200 }, (_, i) => ({
        event_name: 'Purchase',
        event_id: `bulk-${i}`,
      }));
      await store.rememberImported('env', many.slice(0, 600), MS + 10_000);
      const seen = await store.importedKeys('env', many);
      expect(seen.filter(Boolean)).toHaveLength(600);
      expect(seen.slice(598, 602)).toEqual([true, true, false, false]);
      const purged = await store.purge({
        touches_before_s: 0,
        events_before_ms: MS + 1,
        dedup_before_s: 0,
      });
      expect(purged.import_keys).toBe(2);
      expect(await store.importedKeys('env', keys)).toEqual([false, true, false]);
    });
  });
}
