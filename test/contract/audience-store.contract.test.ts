import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { ConversionPathRecord, MembershipRow, Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const T = 1_763_900_000;
const hasPostgres = await postgresAvailable();

function touch(over: Partial<Touch>): Touch {
  return {
    env_id: 'env',
    kind: 'impression',
    touch_id: 'IMP-1',
    dest_id: 'd1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time: T - 60,
    anonymous_id: null,
    user_id: null,
    ip: null,
    user_agent: null,
    ...over,
  };
}

function event(over: Partial<TrackedEvent>, user: TrackedEvent['user']): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'AddToCart',
    event_id: `e-${Math.random()}`,
    event_time: T,
    source: 'server',
    user,
    properties: { value: 10 },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
}

function path(id: string, time: number, over: Partial<ConversionPathRecord> = {}) {
  return {
    env_id: 'env',
    conversion_id: id,
    event_pk: `ev_${id}`,
    event_name: 'Purchase',
    event_time: time,
    value: 50,
    currency: 'EUR',
    lookback_s: 7 * 86_400,
    touches: [
      {
        kind: 'impression' as const,
        touch_id: 'I1',
        dest_id: 'd1',
        campaign_id: 'c1',
        time: time - 100,
        match_key: 'cookie' as const,
      },
    ],
    created_at_ms: time * 1000,
    ...over,
  };
}

function ids(p: string) {
  return {
    extern_id_sha256: p.repeat(64).slice(0, 64),
    email_sha256: null,
    phone_sha256: null,
    phone_e164_sha256: null,
  };
}

function member(key_value: string, person: string, over: Partial<MembershipRow> = {}) {
  return {
    key_type: 'anonymous_id' as const,
    key_value,
    person,
    member: true,
    changes_at: T + 100,
    email_sha256: null,
    phone_sha256: null,
    phone_e164_sha256: null,
    ...over,
  };
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`audience store contract: ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose());

    it('AS01 conversion paths are written at ingest, replaced, and listed by event time', async () => {
      await store.ingest(async (tx) => {
        await tx.putConversionPath(path('cv1', T));
        await tx.putConversionPath(path('cv2', T + 10));
        await tx.putConversionPath(path('cv3', T + 20));
      });
      await store.ingest((tx) => tx.putConversionPath(path('cv1', T, { touches: [], value: 7 })));
      const listed = await store.listConversionPaths('env', T, T + 20);
      expect(listed.map((p) => p.conversion_id)).toEqual(['cv1', 'cv2']);
      expect(listed[0]).toMatchObject({ touches: [], value: 7 });
      expect(await store.getConversionPath('env', 'cv2')).toEqual(path('cv2', T + 10));
      expect(await store.getConversionPath('other', 'cv2')).toBeNull();
      expect(await store.listConversionPaths('other', 0, T * 2)).toEqual([]);
    });

    it('AS02 conversion events page by conversion id inside the time range', async () => {
      await store.ingest(async (tx) => {
        for (const [i, t] of [T, T + 5, T + 50].entries()) {
          const e = event({ event_name: 'Purchase', event_id: `o${i}`, event_time: t }, {});
          await tx.insertEvent(`ev_p${i}`, e, t * 1000);
          for (const dest of ['d1', 'd2']) {
            await tx.putConversion({
              conversion_id: `cv_p${i}`,
              dest_id: dest,
              env_id: 'env',
              event_pk: `ev_p${i}`,
              event_name: 'Purchase',
              event_id: `o${i}`,
              event_time: t,
              value: 1,
              currency: 'EUR',
              attribution: null,
              reason: 'none',
              created_at_ms: t * 1000,
            });
          }
        }
      });
      expect(await store.countConversionEvents('env', T, T + 10)).toBe(2);
      const first = await store.conversionEvents('env', T, T + 10, null, 1);
      expect(first.map((c) => c.conversion_id)).toEqual(['cv_p0']);
      expect(first[0].stored.event.event_id).toBe('o0');
      const next = await store.conversionEvents('env', T, T + 10, 'cv_p0', 5);
      expect(next.map((c) => c.conversion_id)).toEqual(['cv_p1']);
    });

    it('AS03 audiences are found by id alone and listed per environment', async () => {
      const a = {
        env_id: 'env',
        id: 'aud_1',
        name: 'Cart abandoners',
        rules: { all: [{ event: 'AddToCart', within: '7d' }] },
        min_export_size: 100,
        created_at_ms: T * 1000,
        recomputed_at_ms: null,
      };
      await store.createAudience(a);
      await store.createAudience({ ...a, env_id: 'env2', id: 'aud_2' });
      expect(await store.getAudience('aud_1')).toEqual(a);
      expect(await store.getAudience('nope')).toBeNull();
      expect((await store.listAudiences('env')).map((x) => x.id)).toEqual(['aud_1']);
      await store.markAudienceRecomputed('env', 'aud_1', T * 1000 + 5);
      expect((await store.getAudience('aud_1'))?.recomputed_at_ms).toBe(T * 1000 + 5);
    });

    it('AS13 every create, edit, recompute and delete moves the audiences version, never back to an earlier one', async () => {
      const a = {
        env_id: 'env_v',
        id: 'aud_v1',
        name: 'V',
        rules: { all: [{ event: 'Lead', within: '1d' }] },
        min_export_size: 1,
        created_at_ms: T * 1000,
        recomputed_at_ms: null,
      };
      const seen = [await store.audiencesVersion()];
      const moved = async () => {
        const v = await store.audiencesVersion();
        expect(seen).not.toContain(v);
        seen.push(v);
      };
      await store.createAudience(a);
      await moved();
      // Two edits in a row, even in one millisecond.
      await store.updateAudience('env_v', 'aud_v1', { ...a, name: 'V2' });
      await moved();
      await store.updateAudience('env_v', 'aud_v1', { ...a, name: 'V3' });
      await moved();
      await store.markAudienceRecomputed('env_v', 'aud_v1', T * 1000);
      await moved();
      // Back to the rows of an earlier state, yet a new version: a process that cached the
      // audience in between must still drop it.
      await store.deleteAudience('env_v', 'aud_v1');
      await moved();
      await store.createAudience({ ...a, id: 'aud_v2' });
      await store.deleteAudience('env_v', 'aud_v2');
      await store.createAudience({ ...a, id: 'aud_v3' });
      await moved();
      expect(await store.audiencesVersion()).toBe(seen[seen.length - 1]);
    });

    it('AS04 a person is a user id with its linked browser ids, or a lone browser id', async () => {
      await store.ingest(async (tx) => {
        await tx.linkIdentity('env', [{ key_type: 'user_id', key_value: 'u1' }], 'a1', T);
        await tx.linkIdentity('env', [{ key_type: 'user_id', key_value: 'u1' }], 'a2', T + 1);
        await tx.linkIdentity('env', [{ key_type: 'email', key_value: 'h' }], 'a3', T);
      });
      expect(await store.personOf('env', 'anonymous_id', 'a1')).toEqual({
        user_id: 'u1',
        anonymous_ids: expect.arrayContaining(['a1', 'a2']),
      });
      expect((await store.personOf('env', 'user_id', 'u1')).anonymous_ids.sort()).toEqual([
        'a1',
        'a2',
      ]);
      expect(await store.personOf('env', 'anonymous_id', 'a3')).toEqual({
        user_id: null,
        anonymous_ids: ['a3'],
      });
    });

    it('AS05 person records gather events and touches of every id, since a time', async () => {
      await store.insertTouches([
        touch({ touch_id: 'T1', anonymous_id: 'a2', time: T - 10 }),
        touch({ touch_id: 'T2', user_id: 'u1', kind: 'click', time: T - 5 }),
        touch({ touch_id: 'T3', anonymous_id: 'a2', time: T - 1000 }),
        touch({ touch_id: 'T4', anonymous_id: 'zz', time: T - 10 }),
      ]);
      await store.ingest(async (tx) => {
        await tx.insertEvent(
          'ev_r1',
          event({ event_time: T }, { anonymous_id: 'a1', email_sha256: 'e'.repeat(64) }),
          T * 1000,
        );
        await tx.insertEvent('ev_r2', event({ event_name: 'PageView' }, { user_id: 'u1' }), 0);
        await tx.insertEvent('ev_r3', event({ event_time: T - 1000 }, { anonymous_id: 'a1' }), 0);
      });
      const r = await store.personRecords(
        'env',
        { user_id: 'u1', anonymous_ids: ['a1', 'a2'] },
        T - 100,
      );
      expect(r.events.map((e) => e.event_name).sort()).toEqual(['AddToCart', 'PageView']);
      expect(r.events.find((e) => e.event_name === 'AddToCart')).toMatchObject({
        time: T,
        properties: { value: 10 },
        email_sha256: 'e'.repeat(64),
      });
      expect(r.touches.map((t) => t.kind).sort()).toEqual(['click', 'impression']);
      const ids = await store.identifiersSince('env', T - 100, null, 2);
      expect(ids).toEqual([
        { key_type: 'user_id', key_value: 'u1' },
        { key_type: 'anonymous_id', key_value: 'a1' },
      ]);
      const rest = await store.identifiersSince('env', T - 100, ids[1], 10);
      expect(rest).toEqual([
        { key_type: 'anonymous_id', key_value: 'a2' },
        { key_type: 'anonymous_id', key_value: 'zz' },
      ]);
    });

    it('AS14 a browser id with more visits than a person read takes still shows its impression', async () => {
      // Audience conditions name impressions and clicks: visits are read apart and never
      // crowd them out of the newest 2,000 a key's read takes.
      await store.insertTouches([
        touch({ touch_id: 'AS14-IMP', anonymous_id: 'as14', time: T - 5000 }),
        ...Array.from({ length: 2100 }, (_, i) =>
          touch({
            kind: 'visit',
            touch_id: `v_as14_${i}`,
            dest_id: null,
            campaign_id: null,
            anonymous_id: 'as14',
            time: T - 4000 + i,
          }),
        ),
      ]);
      const r = await store.personRecords(
        'env',
        { user_id: null, anonymous_ids: ['as14'] },
        T - 6000,
      );
      expect(r.touches).toEqual([{ kind: 'impression', campaign_id: 'c1', time: T - 5000 }]);
    });

    it('AS15 page reads answer what the one-by-one reads answer, bounds included', async () => {
      // A person with more impressions than a person read takes, under two browser ids:
      // both reads keep the latest 2,000 of them together.
      await store.insertTouches([
        ...Array.from({ length: 2_050 }, (_, i) =>
          touch({ touch_id: `as15_${i}`, anonymous_id: 'as15', time: T - 3000 + i }),
        ),
        ...Array.from({ length: 10 }, (_, i) =>
          touch({ touch_id: `b15_${i}`, anonymous_id: 'b15', time: T - 4000 + i }),
        ),
      ]);
      await store.ingest(async (tx) => {
        await tx.linkIdentity('env', [{ key_type: 'user_id', key_value: 'u15' }], 'as15', T);
        await tx.linkIdentity('env', [{ key_type: 'user_id', key_value: 'u15' }], 'b15', T - 9);
        await tx.insertEvent('ev_as15', event({ event_time: T - 5 }, { anonymous_id: 'b15' }), 0);
        // More events than a read takes under one key, too: read by a bounded query of its own.
        for (let i = 0; i < 2_050; i++)
          await tx.insertEvent(
            `ev_as15_${i}`,
            event({ event_time: T - 4000 + i }, { anonymous_id: 'as15' }),
            0,
          );
      });
      const keys = [
        { key_type: 'anonymous_id' as const, key_value: 'a1' },
        { key_type: 'user_id' as const, key_value: 'u1' },
        { key_type: 'anonymous_id' as const, key_value: 'a3' },
        { key_type: 'anonymous_id' as const, key_value: 'zz' },
        { key_type: 'anonymous_id' as const, key_value: 'as14' },
        { key_type: 'anonymous_id' as const, key_value: 'b15' },
        { key_type: 'user_id' as const, key_value: 'u15' },
        { key_type: 'anonymous_id' as const, key_value: 'nobody' },
      ];
      const one = await Promise.all(
        keys.map((k) => store.personOf('env', k.key_type, k.key_value)),
      );
      const paged = await store.personsOf('env', keys);
      expect(paged).toEqual(one);
      expect(paged[5]).toEqual({ user_id: 'u15', anonymous_ids: ['as15', 'b15'] });
      const sorted = (r: Awaited<ReturnType<Store['personRecords']>>) => ({
        events: [...r.events].sort((x, y) => x.time - y.time),
        touches: [...r.touches].sort((x, y) => x.time - y.time),
      });
      for (const since of [T - 100, T - 6000]) {
        const records = await store.peopleRecords('env', paged, since);
        const alone = await Promise.all(paged.map((who) => store.personRecords('env', who, since)));
        expect(records.map(sorted)).toEqual(alone.map(sorted));
      }
      const [, , , , , u15] = await store.peopleRecords('env', paged, T - 6000);
      expect(u15?.touches).toHaveLength(2_000);
      expect(Math.min(...(u15?.touches ?? []).map((t) => t.time))).toBe(T - 3000 + 50);
      expect(u15?.events).toHaveLength(2_000);
      expect(Math.max(...(u15?.events ?? []).map((e) => e.time))).toBe(T - 5);
      expect(Math.min(...(u15?.events ?? []).map((e) => e.time))).toBe(T - 4000 + 51);
      // Both users of a shared browser are found from it, not only its latest.
      expect((await store.usersOf('env', ['as15', 'a2', 'nobody'])).sort()).toEqual(['u1', 'u15']);
      // Rules that name no touch read none: the same events, no touches, paged or alone.
      const eventsOnly = await store.peopleRecords('env', paged, T - 6000, { touches: false });
      const withTouches = await store.peopleRecords('env', paged, T - 6000);
      expect(eventsOnly.map((r) => sorted(r).events)).toEqual(
        withTouches.map((r) => sorted(r).events),
      );
      expect(eventsOnly.every((r) => r.touches.length === 0)).toBe(true);
      expect(withTouches.some((r) => r.touches.length > 0)).toBe(true);
      for (const who of paged) {
        const alone = await store.personRecords('env', who, T - 6000, { touches: false });
        expect(alone.touches).toEqual([]);
      }
    });

    it('AS16 a full evaluation lists only the ids with a record some member needs', async () => {
      await store.insertTouches([
        touch({
          env_id: 'envc',
          touch_id: 'C1',
          kind: 'click',
          campaign_id: 'c1',
          anonymous_id: 'clk1',
        }),
        touch({
          env_id: 'envc',
          touch_id: 'C2',
          kind: 'click',
          campaign_id: 'c2',
          anonymous_id: 'clk2',
        }),
        touch({ env_id: 'envc', touch_id: 'I1', anonymous_id: 'imp1' }),
        touch({
          env_id: 'envc',
          touch_id: 'V1',
          kind: 'visit',
          campaign_id: null,
          anonymous_id: 'vis1',
        }),
      ]);
      await store.ingest(async (tx) => {
        await tx.insertEvent(
          'ev_c1',
          event({ env_id: 'envc', event_name: 'Purchase' }, { user_id: 'buyer' }),
          0,
        );
        await tx.insertEvent('ev_c2', event({ env_id: 'envc' }, { anonymous_id: 'cart' }), 0);
      });
      const list = async (only: Parameters<Store['identifiersSince']>[4]) =>
        (await store.identifiersSince('envc', T - 1000, null, 100, only)).map((k) => k.key_value);
      expect(await list(null)).toEqual(['buyer', 'cart', 'clk1', 'clk2', 'imp1', 'vis1']);
      expect(await list([{ type: 'event', event: 'Purchase', within_s: 1000 }])).toEqual(['buyer']);
      expect(
        await list([{ type: 'touch', touch: 'click', campaign_id: 'c2', within_s: 1000 }]),
      ).toEqual(['clk2']);
      expect(
        await list([
          { type: 'touch', touch: 'click', campaign_id: null, within_s: 1000 },
          { type: 'event', event: 'AddToCart', within_s: 1000 },
        ]),
      ).toEqual(['cart', 'clk1', 'clk2']);
      expect(
        await list([{ type: 'touch', touch: 'impression', campaign_id: null, within_s: 1000 }]),
      ).toEqual(['imp1']);
    });

    it('AS06 memberships: single-row lookup, upsert, due rows, size counts persons', async () => {
      await store.upsertMemberships(
        'env',
        'aud_1',
        [
          member('a1', 'u:u1'),
          member('u1', 'u:u1', { key_type: 'user_id', email_sha256: 'e'.repeat(64) }),
          member('a9', 'a:a9', { changes_at: null }),
          member('a8', 'a:a8', { member: false, changes_at: T + 500 }),
        ],
        T * 1000,
      );
      expect(await store.getMembership('env', 'aud_1', 'anonymous_id', 'a1')).toEqual(
        member('a1', 'u:u1'),
      );
      expect(await store.getMembership('env', 'aud_1', 'anonymous_id', 'nobody')).toBeNull();
      expect(await store.getMembership('env', 'aud_x', 'anonymous_id', 'a1')).toBeNull();
      expect(await store.audienceSize('env', 'aud_1')).toBe(2);
      const members = await store.audienceMembers('env', 'aud_1');
      expect(members.map((m) => [m.person, m.key_type])).toEqual([
        ['a:a9', 'anonymous_id'],
        ['u:u1', 'user_id'],
      ]);
      expect(
        (await store.membershipsDue('env', 'aud_1', T + 100, 10)).map((d) => d.key_value).sort(),
      ).toEqual(['a1', 'u1']);
      await store.upsertMemberships(
        'env',
        'aud_1',
        [member('a1', 'u:u1', { member: false, changes_at: null })],
        T * 1000 + 1,
      );
      expect((await store.getMembership('env', 'aud_1', 'anonymous_id', 'a1'))?.member).toBe(false);
      expect(await store.audienceSize('env', 'aud_1')).toBe(2); // u1 still holds u:u1
      await store.deleteMemberships('env', 'aud_1', [
        { key_type: 'user_id', key_value: 'u1' },
        { key_type: 'anonymous_id', key_value: 'a1' },
      ]);
      expect(await store.getMembership('env', 'aud_1', 'user_id', 'u1')).toBeNull();
      expect(await store.getMembership('env', 'aud_1', 'anonymous_id', 'a9')).not.toBeNull();
      expect(await store.audienceSize('env', 'aud_1')).toBe(1);
    });

    it('AS07 size history keeps points in time order', async () => {
      await store.recordAudienceSize('env', 'aud_1', 3000, 5);
      await store.recordAudienceSize('env', 'aud_1', 1000, 3);
      await store.recordAudienceSize('env', 'aud_1', 2000, 4);
      await store.recordAudienceSize('env', 'aud_1', 2000, 6);
      expect(await store.audienceSizes('env', 'aud_1', 2)).toEqual([
        { at_ms: 2000, size: 6 },
        { at_ms: 3000, size: 5 },
      ]);
    });

    it('AS09 person reads and the members lookup are indexed, after every migration', async () => {
      const db = (store as KyselyStore).db;
      const names =
        store.dialect === 'postgres'
          ? (await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes`.execute(db)).rows
          : (
              await sql<{
                name: string;
              }>`SELECT name FROM sqlite_master WHERE type = 'index'`.execute(db)
            ).rows;
      expect(names.map((n) => n.name)).toEqual(
        expect.arrayContaining([
          'events_by_anonymous_id',
          'events_by_user_id',
          'identity_links_by_anonymous_id',
          'audience_members_by_person',
        ]),
      );
    });

    it('AS10 paging through identifiers one at a time sees each once, in byte order', async () => {
      const ids = ['k-c', 'kb', 'k_a', 'K9'];
      await store.insertTouches(
        ids.map((a, i) => touch({ env_id: 'envk', touch_id: `K${i}`, anonymous_id: a, time: T })),
      );
      await store.ingest((tx) =>
        tx.insertEvent('ev_k', event({ env_id: 'envk' }, { anonymous_id: 'kb' }), T * 1000),
      );
      const seen: string[] = [];
      let after: { key_type: 'anonymous_id' | 'user_id'; key_value: string } | null = null;
      for (;;) {
        const page = await store.identifiersSince('envk', T - 10, after, 1);
        if (page.length === 0) break;
        seen.push(page[0].key_value);
        after = page[0];
      }
      expect(seen).toEqual(['K9', 'k-c', 'k_a', 'kb']);
    });

    it('AS08 sync state adds and removes persons', async () => {
      // The state a sync leaves, reached as a sync reaches it: batches queued for members,
      // then sent by a worker (so nothing stays pending for the job claims of later tests).
      await store.upsertMemberships(
        'env',
        'aud_1',
        [member('a', 'a'), member('b', 'b'), member('c', 'c')],
        T * 1000,
      );
      const sync = async (added: string[], removed: string[], at_ms: number) => {
        const persons = added.map((person) => ({ person, ids: ids(person) }));
        const job = {
          audience_id: 'aud_1',
          action: 'add' as const,
          platform_audience_id: '600',
          advertiser_id: null,
          persons,
        };
        await store.enqueueAudienceSync(
          'env',
          'meta1',
          [{ key: `aud_1:as08_${at_ms}`, job }],
          persons,
          removed,
          at_ms,
        );
        const claimed = await store.claimJobs('audience_sync', at_ms, 100, 60_000, 'w8', new Set());
        await store.finishAttempts(
          claimed.map((c) => ({
            attempt: {
              outbox_id: c.outbox.id,
              env_id: 'env',
              at_ms,
              duration_ms: 1,
              status_code: 200,
              error: null,
              verdict: 'delivered',
              response_excerpt: null,
            },
            update: { status: 'delivered' as const },
          })),
        );
      };
      await sync(['a', 'b'], [], 1);
      await sync(['c'], ['a'], 2);
      expect(await store.syncedPersons('env', 'aud_1', 'meta1')).toEqual([
        { person: 'b', ids: ids('b') },
        { person: 'c', ids: ids('c') },
      ]);
      expect(await store.syncedPersons('env', 'aud_1', 'other')).toEqual([]);
    });

    it('AS12 the retention purge empties audience batches that ended undelivered of their hashed ids', async () => {
      await store.upsertMemberships(
        'envk',
        'aud_k',
        [member('p1', 'p1'), member('p2', 'p2')],
        T * 1000,
      );
      const job = (person: string) => ({
        key: `aud_k:as_${person}`,
        job: {
          audience_id: 'aud_k',
          action: 'add' as const,
          platform_audience_id: '700',
          advertiser_id: null,
          persons: [{ person, ids: ids(person) }],
        },
      });
      // One batch only: a pending one would be claimed by the tests after this one.
      const [dead] = await store.enqueueAudienceSync(
        'envk',
        'meta1',
        [job('p1')],
        [{ person: 'p1', ids: ids('p1') }],
        [],
        T * 1000,
      );
      await store.finishAttempts([
        {
          attempt: {
            outbox_id: dead,
            env_id: 'envk',
            at_ms: T * 1000,
            duration_ms: 5,
            status_code: 400,
            error: 'HTTP 400',
            verdict: 'dead',
            response_excerpt: null,
          },
          update: { status: 'dead' },
        },
      ]);
      const persons = async () =>
        Object.fromEntries(
          (await store.listAudienceJobs('envk', 'aud_k', 10)).map((l) => [
            l.outbox.id,
            l.job?.persons.map((p) => p.person),
          ]),
        );
      const cutoff = (before_ms: number) =>
        store.purge({ touches_before_s: 0, events_before_ms: before_ms, dedup_before_s: 0 });
      // Ended after the cutoff: kept for a retry by hand.
      expect((await cutoff(T * 1000)).audience_batches_emptied).toBe(0);
      expect(await persons()).toEqual({ [dead]: ['p1'] });
      expect((await cutoff(T * 1000 + 60_000)).audience_batches_emptied).toBe(1);
      expect(await persons()).toEqual({ [dead]: [] });
      expect(
        (await store.listAudienceJobs('envk', 'aud_k', 10)).find((l) => l.outbox.id === dead)?.job
          ?.rows,
      ).toBe(1);
    });

    it('AS11 sync batches are outbox jobs: queued with the sync state, claimed apart from conversions', async () => {
      const job = (action: 'add' | 'remove', person: string) => ({
        audience_id: 'aud_j',
        action,
        platform_audience_id: '600',
        advertiser_id: null,
        persons: [{ person, ids: ids(person) }],
      });
      // Only members are queued to be added: y is one, z no longer (left since the plan).
      await store.upsertMemberships(
        'envj',
        'aud_j',
        [member('y', 'y'), member('z', 'z', { member: false })],
        T * 1000,
      );
      const queued = await store.enqueueAudienceSync(
        'envj',
        'meta1',
        [
          { key: 'aud_j:as_1', job: job('remove', 'x') },
          { key: 'aud_j:as_2', job: job('add', 'y') },
          { key: 'aud_j:as_3', job: job('add', 'z') },
        ],
        [
          { person: 'y', ids: ids('y') },
          { person: 'z', ids: ids('z') },
        ],
        [],
        T * 1000,
      );
      expect(queued).toHaveLength(2);
      expect(await store.syncedPersons('envj', 'aud_j', 'meta1')).toEqual([
        { person: 'y', ids: ids('y') },
      ]);
      // Conversion claims never see jobs; job claims see them in id order, one lane per destination.
      const paused = new Set<string>();
      expect(await store.claimDeliveries(T * 1000, 100, 60_000, 'w1', paused)).toEqual([]);
      const claimed = await store.claimJobs('audience_sync', T * 1000, 100, 60_000, 'w1', paused);
      expect(claimed.map((c) => c.outbox.id)).toEqual(queued);
      expect(claimed[0]).toMatchObject({
        outbox: { kind: 'audience_sync', dest_id: 'meta1', status: 'pending' },
        payload: job('remove', 'x'),
      });
      // The first job backs off: the second waits behind it, in order.
      await store.finishAttempts([
        {
          attempt: {
            outbox_id: queued[0],
            env_id: 'envj',
            at_ms: T * 1000,
            duration_ms: 5,
            status_code: 503,
            error: 'HTTP 503',
            verdict: 'retry',
            response_excerpt: null,
          },
          update: { status: 'pending', next_attempt_at_ms: T * 1000 + 5000 },
        },
      ]);
      await store.extendLeases('w1', [queued[1]], T * 1000 - 1);
      expect(
        await store.claimJobs('audience_sync', T * 1000 + 10, 100, 60_000, 'w2', paused),
      ).toEqual([]);
      const listed = await store.listAudienceJobs('envj', 'aud_j', 10);
      expect(listed.map((l) => [l.outbox.id, l.job?.action, l.attempts.length])).toEqual([
        [queued[1], 'add', 0],
        [queued[0], 'remove', 1],
      ]);
      expect(await store.listAudienceJobs('envj', 'aud_', 10)).toEqual([]);
      await store.deleteAudience('envj', 'aud_j');
      // The removal still waiting stays: deleting our audience leaves the platform's copy.
      expect(
        (await store.listAudienceJobs('envj', 'aud_j', 10)).map((l) => [
          l.outbox.id,
          l.job?.action,
        ]),
      ).toEqual([[queued[0], 'remove']]);
      expect(await store.getDelivery(queued[1])).toBeNull();
      expect(await store.syncedPersons('envj', 'aud_j', 'meta1')).toEqual([]);
    });

    it('AS12 a due schedule is taken once and moved to its next run', async () => {
      const sched = {
        dest_id: 'meta1',
        platform_audience_id: '600',
        advertiser_id: null,
        every_ms: 3_600_000,
        next_run_at_ms: 1000,
        last_run_at_ms: null,
      };
      await store.putSchedules('envs', 'aud_s', [sched]);
      expect(await store.listSchedules('envs', 'aud_s')).toEqual([sched]);
      expect(await store.claimDueSchedules(999, 10)).toEqual([]);
      const [a, b] = await Promise.all([
        store.claimDueSchedules(2000, 10),
        store.claimDueSchedules(2000, 10),
      ]);
      expect([...a, ...b]).toEqual([{ ...sched, env_id: 'envs', audience_id: 'aud_s' }]);
      expect(await store.listSchedules('envs', 'aud_s')).toEqual([
        { ...sched, next_run_at_ms: 2000 + 3_600_000, last_run_at_ms: 2000 },
      ]);
      await store.putSchedules('envs', 'aud_s', []);
      expect(await store.listSchedules('envs', 'aud_s')).toEqual([]);
    });
  });
}
