import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplePostback, bodyDigest, unverified } from '../../src/domain/apple-postback.js';
import type { NewPostback, PostbackOutcome, Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();

function postback(over: Partial<ApplePostback> = {}): ApplePostback {
  return {
    framework: 'skadnetwork',
    version: '4.0',
    transaction_id: crypto.randomUUID(),
    ad_network_id: 'net.example.skadnetwork',
    app_id: '111',
    campaign_id: null,
    source_identifier: '1234',
    source_app_id: '987',
    source_domain: null,
    fine_value: 5,
    coarse_value: null,
    sequence_index: 0,
    did_win: true,
    redownload: false,
    conversion_type: null,
    fidelity_type: 1,
    interaction_type: null,
    country_code: null,
    marketplace_id: null,
    ...over,
  };
}

const HOUR_MS = 3_600_000;
/** Room enough that the tests of other behaviour never meet the sample's bound. */
const ROOMY = { per_hour: 1000, body_chars: 2048 };

function arrival(
  p: ApplePostback | null,
  env_id = 'env_a',
  verified = true,
  at = 1000,
  sample = ROOMY,
  body = JSON.stringify(p ?? { junk: true }),
): NewPostback {
  return {
    env_id,
    framework: p?.framework ?? 'skadnetwork',
    postback: p,
    verification: verified
      ? { verified: true, key_id: 'apple-p256' }
      : unverified('bad_signature', 'does not verify', 'apple-p256'),
    body,
    body_sha256: bodyDigest(body),
    received_at_ms: at,
    sample,
  };
}

/** The row id of an outcome that has one. */
function idOf(o: PostbackOutcome): number {
  if (o.outcome === 'not_kept') throw new Error('not kept');
  return o.id;
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Apple postbacks on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('PB01 a postback is stored once; an identical copy counts as a duplicate', async () => {
      const p = postback();
      const first = await store.recordPostback(arrival(p));
      expect(first).toMatchObject({ outcome: 'stored', verified: true });
      expect(await store.recordPostback(arrival(p))).toEqual({
        outcome: 'duplicate',
        id: idOf(first),
      });
      const rows = await store.listPostbacks({ env_id: 'env_a', limit: 50 });
      const mine = rows.filter((r) => r.transaction_id === p.transaction_id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        verified: true,
        reason: null,
        duplicates: 1,
        fine_value: 5,
        did_win: true,
        redownload: false,
        key_id: 'apple-p256',
        received_at: '1970-01-01T00:00:01.000Z',
      });
    });

    it('PB02 a changed copy of a verified postback is kept apart, unverified, never counted', async () => {
      const p = postback();
      const first = await store.recordPostback(arrival(p));
      const changed = await store.recordPostback(arrival({ ...p, fine_value: 63 }));
      expect(changed).toEqual({
        outcome: 'conflict',
        id: expect.any(Number),
        original_id: idOf(first),
      });
      const rows = (await store.listPostbacks({ env_id: 'env_a', limit: 50 })).filter(
        (r) => r.transaction_id === p.transaction_id,
      );
      expect(rows.map((r) => [r.fine_value, r.verified, r.reason])).toEqual([
        [63, false, 'conflicting_replay'],
        [5, true, null],
      ]);
      // A later conversion window of the same transaction is a postback of its own.
      expect(await store.recordPostback(arrival({ ...p, sequence_index: 1 }))).toMatchObject({
        outcome: 'stored',
        verified: true,
      });
    });

    it('PB03 a forged copy first, then the genuine one: the genuine one is counted', async () => {
      const p = postback();
      expect(
        await store.recordPostback(arrival({ ...p, fine_value: 1 }, 'env_a', false)),
      ).toMatchObject({ outcome: 'stored', verified: false });
      expect(await store.recordPostback(arrival(p))).toMatchObject({
        outcome: 'stored',
        verified: true,
      });
    });

    it('PB04 concurrent copies, some changed: one verified row, one row per body', async () => {
      const p = postback();
      const copies = Array.from({ length: 12 }, (_, i) => arrival({ ...p, fine_value: i % 3 }));
      const outcomes = await Promise.all(copies.map((c) => store.recordPostback(c)));
      const rows = (await store.listPostbacks({ env_id: 'env_a', limit: 100 })).filter(
        (r) => r.transaction_id === p.transaction_id,
      );
      expect(rows.filter((r) => r.verified)).toHaveLength(1);
      expect(rows).toHaveLength(3);
      expect(rows.reduce((n, r) => n + r.duplicates, 0)).toBe(9);
      expect(outcomes.filter((o) => o.outcome === 'duplicate')).toHaveLength(9);
    });

    it('PB05 lists filter by environment, verification, framework and page', async () => {
      await store.recordPostback(arrival(null, 'env_b', false));
      await store.recordPostback(arrival(postback({ app_id: '222' }), 'env_b'));
      await store.recordPostback(
        arrival(postback({ framework: 'adattributionkit', version: null, app_id: '222' }), 'env_b'),
      );
      const all = await store.listPostbacks({ env_id: 'env_b', limit: 10 });
      expect(all.map((r) => [r.framework, r.verified])).toEqual([
        ['adattributionkit', true],
        ['skadnetwork', true],
        ['skadnetwork', false],
      ]);
      expect(all[2]).toMatchObject({ transaction_id: '', app_id: null, body: '{"junk":true}' });
      expect(
        (await store.listPostbacks({ env_id: 'env_b', verified: false, limit: 10 })).length,
      ).toBe(1);
      expect(
        (await store.listPostbacks({ env_id: 'env_b', framework: 'adattributionkit', limit: 10 }))
          .length,
      ).toBe(1);
      const page2 = await store.listPostbacks({ env_id: 'env_b', before_id: all[0].id, limit: 1 });
      expect(page2.map((r) => r.id)).toEqual([all[1].id]);
    });

    it('PB06 counts group verified postbacks of the range only', async () => {
      const env = 'env_counts';
      const base = { app_id: '333', source_identifier: '12' };
      await store.recordPostback(arrival(postback({ ...base, fine_value: 7 }), env, true, 5000));
      await store.recordPostback(arrival(postback({ ...base, fine_value: 7 }), env, true, 6000));
      await store.recordPostback(arrival(postback({ ...base, fine_value: 9 }), env, true, 6000));
      await store.recordPostback(arrival(postback({ ...base, fine_value: 7 }), env, false, 6000));
      await store.recordPostback(arrival(postback({ ...base, fine_value: 7 }), env, true, 9000));
      const counts = await store.postbackCounts(env, 5000, 9000);
      expect(counts.map((c) => [c.fine_value, c.n, c.source_identifier, c.did_win]).sort()).toEqual(
        [
          [7, 2, '12', true],
          [9, 1, '12', true],
        ],
      );
    });

    it('PB07 postbacks of an app no environment claimed move to it once it is configured', async () => {
      const p = postback({ app_id: '444' });
      await store.recordPostback(arrival(p, ''));
      expect(
        (await store.listPostbacks({ env_id: '', limit: 100 })).some((r) => r.app_id === '444'),
      ).toBe(true);
      expect(await store.claimPostbacks([{ app_id: '444', env_id: 'env_c' }])).toBe(1);
      const moved = await store.listPostbacks({ env_id: 'env_c', limit: 10 });
      expect(moved.map((r) => [r.transaction_id, r.env_id])).toEqual([[p.transaction_id, 'env_c']]);
      expect(await store.claimPostbacks([{ app_id: '444', env_id: 'env_c' }])).toBe(0);
    });
    it('PB08 unverified postbacks are a sample: at most per_hour rows per environment and hour, all counted', async () => {
      const env = 'env_sample';
      const hour = 100 * HOUR_MS;
      const sample = { per_hour: 5, body_chars: 40 };
      const junk = (i: number, at = hour + i) =>
        arrival(null, env, false, at, sample, `junk ${i} ${'x'.repeat(60)}`);
      // Concurrent copies take the places one at a time.
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.recordPostback(junk(i))),
      );
      expect(outcomes.filter((o) => o.outcome === 'stored')).toHaveLength(5);
      expect(outcomes.filter((o) => o.outcome === 'not_kept')).toEqual(
        Array.from({ length: 15 }, () => ({ outcome: 'not_kept', reason: 'bad_signature' })),
      );
      // An identical copy of a kept body is a duplicate, not a new arrival.
      const kept = await store.listPostbacks({ env_id: env, limit: 100 });
      expect(kept).toHaveLength(5);
      expect(kept[0].body).toHaveLength(40);
      expect(kept[0].reason_detail).toMatch(/body cut to 40 of 6[78] characters/);
      const again = Number(kept[0].body.split(' ')[1]);
      expect(await store.recordPostback(junk(again))).toMatchObject({ outcome: 'duplicate' });
      // A verified postback is stored whatever the sample holds; a conflicting replay is not.
      const p = postback({ app_id: '555' });
      const genuine = arrival(p, env, true, hour + 30, sample);
      expect(await store.recordPostback(genuine)).toMatchObject({ outcome: 'stored' });
      expect(
        await store.recordPostback(arrival({ ...p, fine_value: 1 }, env, true, hour + 31, sample)),
      ).toEqual({ outcome: 'not_kept', reason: 'conflicting_replay' });
      expect(await store.unverifiedCounts(env, hour)).toEqual({ received: 21, kept: 5 });
      // The next hour has a sample of its own; another environment too.
      expect(await store.recordPostback(junk(99, hour + HOUR_MS))).toMatchObject({
        outcome: 'stored',
        verified: false,
      });
      expect(
        await store.recordPostback(arrival(null, 'env_sample2', false, hour + 5, sample, 'j')),
      ).toMatchObject({ outcome: 'stored' });
      expect(await store.unverifiedCounts(env, hour)).toEqual({ received: 22, kept: 6 });
      expect(await store.unverifiedCounts(env, hour + HOUR_MS)).toEqual({ received: 1, kept: 1 });
      // per_hour 0 keeps none.
      const none = { per_hour: 0, body_chars: 40 };
      expect(
        await store.recordPostback(arrival(null, 'env_none', false, hour, none, 'k')),
      ).toMatchObject({ outcome: 'not_kept', reason: 'bad_signature' });
      expect(await store.unverifiedCounts('env_none', 0)).toEqual({ received: 1, kept: 0 });
    });

    it('PB09 the purge takes unverified postbacks (and their counts) sooner than verified ones', async () => {
      const env = 'env_purge';
      const old = 200 * HOUR_MS;
      await store.recordPostback(arrival(postback(), env, true, old));
      await store.recordPostback(arrival(null, env, false, old));
      const report = await store.purge({
        touches_before_s: 0,
        events_before_ms: 0,
        dedup_before_s: 0,
        unverified_postbacks_before_ms: old + HOUR_MS,
      });
      expect(report.apple_postbacks).toBeGreaterThanOrEqual(1);
      const left = await store.listPostbacks({ env_id: env, limit: 10 });
      expect(left.map((r) => r.verified)).toEqual([true]);
      expect(await store.unverifiedCounts(env, 0)).toEqual({ received: 0, kept: 0 });
    });
  });
}
