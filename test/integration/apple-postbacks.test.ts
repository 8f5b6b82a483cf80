/**
 * Apple postbacks on a real server (issue 25): SKAdNetwork and AdAttributionKit bodies
 * posted to the well-known paths, answered 200 whatever they hold, verified with Apple's
 * published keys (or a test key the config adds), stored once, kept apart when not
 * verified, listed by GET /api/postbacks and counted in /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import {
  AAK_DEV,
  AAK_DEV_APP_ID,
  APPLE_EXAMPLE_APP_ID,
  SKAN_2_2,
  SKAN_3_LOSS,
  SKAN_3_WIN,
  SKAN_4_COARSE,
  SKAN_4_FINE,
  signedAak,
  signedSkan,
  testSigner,
} from '../fixtures/apple-postbacks.js';
import {
  admin,
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

const SKAN = '/.well-known/skadnetwork/report-attribution/';
const AAK = '/.well-known/appattribution/report-attribution/';
const signer = testSigner();

let server: Server;
let base: string;

beforeAll(async () => {
  const cfg = testConfig('http://127.0.0.1:9/hook');
  ({ server, base } = await startPixeltrail(
    {
      ...cfg,
      environments: [
        ...cfg.environments,
        { id: 'env_other', write_key: 'wk_other' },
        { id: 'env_web', write_key: 'wk_web' },
      ],
      apps: [
        {
          app_id: Number(APPLE_EXAMPLE_APP_ID),
          platform: 'ios',
          env_id: 'env_t',
          conversion_values: {
            currency: 'USD',
            fine: [{ values: [60, 63], event: 'Purchase', revenue: [10, 20] }],
            coarse: { high: { event: 'Purchase' } },
          },
          skan_campaigns: [
            { source: '42', campaign_id: 'c42' },
            { source: '77', campaign_id: 'c77' },
          ],
        },
        {
          app_id: 1234567890,
          platform: 'ios',
          env_id: 'env_t',
          name: 'Shop app',
          conversion_values: {
            currency: 'USD',
            fine: [
              { bit: 0, event: 'CompleteRegistration' },
              { bit: 1, event: 'Purchase' },
              { mask: 12, equals: 4, revenue: [1, 9] },
            ],
            coarse: { high: { event: 'Purchase', revenue: [10, 30] } },
          },
          skan_campaigns: [{ source: '77', campaign_id: 'c1' }],
        },
        { app_id: AAK_DEV_APP_ID, platform: 'ios', env_id: 'env_other' },
      ],
      apple_postbacks: { test_keys: [{ id: 'ci', public_key: signer.publicKey }] },
    },
    tempDir(),
  ));
});
afterAll(async () => server?.close());

async function post(path: string, body: unknown, type = 'application/json') {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function list(query: string) {
  const res = await admin(base, `/api/postbacks?${query}`);
  expect(res.status).toBe(200);
  return res.body.postbacks as any[];
}

const byTx = (rows: any[], tx: string) => rows.filter((r) => r.transaction_id === tx);

async function metric(framework: string, result: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(`pixeltrail_apple_postbacks_total{framework="${framework}",result="${result}"}`),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('Apple postbacks', () => {
  it("APB01 Apple's published postbacks are answered 200, verified and stored with every field", async () => {
    for (const body of [SKAN_4_FINE, SKAN_4_COARSE, SKAN_3_WIN, SKAN_3_LOSS, SKAN_2_2]) {
      expect(await post(SKAN, body)).toEqual({ status: 200, text: '' });
    }
    const rows = await list('env_id=env_t&framework=skadnetwork');
    const fine = byTx(rows, SKAN_4_FINE['transaction-id']);
    expect(fine).toHaveLength(1);
    expect(fine[0]).toMatchObject({
      env_id: 'env_t',
      framework: 'skadnetwork',
      version: '4.0',
      verified: true,
      reason: null,
      key_id: 'apple-p256',
      ad_network_id: 'com.example',
      app_id: APPLE_EXAMPLE_APP_ID,
      source_identifier: '5239',
      source_domain: 'example.com',
      fine_value: 63,
      sequence_index: 0,
      did_win: true,
      redownload: false,
      fidelity_type: 1,
      duplicates: 0,
      decoded: {
        source: 'fine',
        events: ['Purchase'],
        revenue: { min: 10, max: 20, currency: 'USD' },
      },
    });
    expect(JSON.parse(fine[0].body)).toEqual(SKAN_4_FINE);
    // Apple's 3.0 and 2.2 examples share a transaction id: the second is a changed copy.
    expect(
      byTx(rows, SKAN_3_WIN['transaction-id']).map((r) => [r.version, r.verified, r.reason]),
    ).toEqual([
      ['2.2', false, 'conflicting_replay'],
      ['3.0', true, null],
    ]);
    const loss = byTx(rows, SKAN_3_LOSS['transaction-id'])[0];
    expect([loss.verified, loss.did_win, loss.campaign_id]).toEqual([true, false, '42']);
    expect(byTx(rows, SKAN_4_COARSE['transaction-id'])[0]).toMatchObject({
      coarse_value: 'high',
      decoded: { source: 'coarse', events: ['Purchase'], revenue: null },
    });
  });

  it('APB02 a postback sent again is stored once; a changed copy is flagged, never counted', async () => {
    const before = await metric('skadnetwork', 'duplicate');
    const conflicts = await metric('skadnetwork', 'conflicting_replay');
    const body = signedSkan(signer, { 'conversion-value': 12 });
    const tx = String(body['transaction-id']);
    for (let i = 0; i < 3; i++) expect((await post(SKAN, body)).status).toBe(200);
    // Reordered keys are the same postback.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    expect((await post(SKAN, reordered)).status).toBe(200);
    expect(await metric('skadnetwork', 'duplicate')).toBe(before + 3);
    // The conversion value is not signed: a changed copy still verifies, and is refused.
    expect((await post(SKAN, { ...body, 'conversion-value': 63 })).status).toBe(200);
    const rows = byTx(await list('env_id=env_t'), tx);
    expect(rows.map((r) => [r.fine_value, r.verified, r.reason, r.duplicates])).toEqual([
      [63, false, 'conflicting_replay', 0],
      [12, true, null, 3],
    ]);
    expect(rows[0].reason_detail).toContain(`postback ${rows[1].id}`);
    expect(rows[1].key_id).toBe('test:ci');
    expect(await metric('skadnetwork', 'conflicting_replay')).toBe(conflicts + 1);
  });

  it('APB03 tampered fields fail verification and are kept apart with the reason', async () => {
    const tampered = { ...SKAN_4_FINE, 'transaction-id': 'aaaaaaaa-0170-41b5-bbe4-fe71dedf1e30' };
    expect((await post(SKAN, tampered)).status).toBe(200);
    const unsigned: Record<string, unknown> = {
      ...signedSkan(signer),
      'source-identifier': '9999',
    };
    expect((await post(SKAN, unsigned)).status).toBe(200);
    const bad = await list('env_id=env_t&verified=false');
    const t = byTx(bad, tampered['transaction-id'])[0];
    expect(t).toMatchObject({ verified: false, reason: 'bad_signature', decoded: null });
    expect(t.reason_detail).toMatch(/P256 key for version 4\.0/);
    expect(byTx(bad, String(unsigned['transaction-id']))[0].reason).toBe('bad_signature');
    expect(await metric('skadnetwork', 'bad_signature')).toBe(2);
  });

  it('APB04 junk gets a 200 too, and is counted: not JSON, empty, too large, any content type', async () => {
    const before = await metric('skadnetwork', 'malformed');
    expect(await post(SKAN, 'not json{', 'text/plain')).toEqual({ status: 200, text: '' });
    expect((await post(SKAN, '', 'application/json')).status).toBe(200);
    expect((await post(SKAN, { hello: 'world' }, 'application/x-www-form-urlencoded')).status).toBe(
      200,
    );
    expect((await post(SKAN.slice(0, -1), [1, 2, 3])).status).toBe(200);
    expect((await post(SKAN, 'x'.repeat(20_000), 'text/plain')).status).toBe(200);
    expect(await metric('skadnetwork', 'malformed')).toBe(before + 4);
    expect(await metric('skadnetwork', 'too_large')).toBe(1);
    const kept = await list('unclaimed=true&verified=false');
    expect(kept.some((r) => r.body === 'not json{' && r.reason === 'malformed')).toBe(true);
    expect(kept.some((r) => r.body.length > 16_000)).toBe(false);
  });

  it("APB05 AdAttributionKit: Apple's development example is kept apart; a test-key JWS is verified", async () => {
    expect((await post(AAK, AAK_DEV)).status).toBe(200);
    const dev = await list('env_id=env_other&framework=adattributionkit');
    expect(dev[0]).toMatchObject({
      framework: 'adattributionkit',
      verified: false,
      reason: 'development_key',
      key_id: 'apple-development-identifier/1',
      transaction_id: '85546EB7-FD39-44BC-8990-C98A4AC36A49',
      conversion_type: 're-engagement',
      fine_value: 24,
      interaction_type: 'click',
      country_code: 'US',
    });
    const mine = await signedAak(
      signer,
      'ci',
      { 'advertised-item-identifier': 1234567890, 'postback-sequence-index': 1 },
      { 'coarse-conversion-value': 'medium' },
    );
    expect((await post(AAK, mine)).status).toBe(200);
    const rows = await list('env_id=env_t&framework=adattributionkit');
    expect(rows[0]).toMatchObject({
      verified: true,
      key_id: 'test:ci',
      sequence_index: 1,
      coarse_value: 'medium',
      source_identifier: '4321',
      conversion_type: 'download',
      redownload: false,
    });
    expect(await metric('adattributionkit', 'verified')).toBe(1);
    expect(await metric('adattributionkit', 'development_key')).toBe(1);
  });

  it('APB06 a verified postback of an app no environment lists is kept as unclaimed', async () => {
    const body = signedSkan(signer, { 'app-id': 5555 });
    expect((await post(SKAN, body)).status).toBe(200);
    const rows = byTx(await list('unclaimed=true'), String(body['transaction-id']));
    expect(rows[0]).toMatchObject({ env_id: null, verified: true, app_id: '5555' });
    expect(await metric('skadnetwork', 'unclaimed')).toBe(1);
  });

  it('APB07 GET /api/postbacks is an admin route that names a missing or unknown env_id', async () => {
    expect((await fetch(`${base}/api/postbacks?env_id=env_t`)).status).toBe(401);
    const missing = await admin(base, '/api/postbacks');
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toMatchObject([
      { field: 'env_id', message: 'must name an environment (or set unclaimed=true)' },
    ]);
    expect((await admin(base, '/api/postbacks?env_id=nope')).status).toBe(404);
    expect((await admin(base, '/api/postbacks?env_id=env_t&limit=0')).status).toBe(400);
    const page = await admin(base, '/api/postbacks?env_id=env_t&limit=2');
    expect(page.body.postbacks).toHaveLength(2);
    const next = await admin(
      base,
      `/api/postbacks?env_id=env_t&limit=2&before_id=${page.body.next_before_id}`,
    );
    expect(next.body.postbacks[0].id).toBeLessThan(page.body.postbacks[1].id + 1);
    expect(next.body.postbacks[0].id).not.toBe(page.body.postbacks[1].id);
  });

  it('APB08 reports show SKAN installs and decoded conversions per campaign beside the deterministic rows, never added to them', async () => {
    // A deterministic conversion: a click on campaign c1, then a purchase by the same browser.
    const click = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-R1&campaign_id=c1&url=https%3A%2F%2Fshop.example%2F`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    expect(click.status).toBe(302);
    await server.services.pipeline.flush();
    expect((await postEvents(base, [purchase('ord-skan-1')])).body.accepted).toBe(1);
    const before = (await admin(base, '/api/reports?env_id=env_t&group_by=campaign')).body;
    // Apple's postbacks for the same campaign (source identifier 77xx → c1): two installs,
    // one of them purchasing (fine 0b0111), a redownload, a later window's coarse value,
    // and a non-winning postback.
    const bodies = [
      signedSkan(signer, { 'source-identifier': '7701', 'conversion-value': 0b0111 }),
      signedSkan(signer, { 'source-identifier': '7702', 'conversion-value': 0b0001 }),
      signedSkan(signer, { 'source-identifier': '7702', redownload: true }),
      signedSkan(signer, {
        'source-identifier': '77',
        'postback-sequence-index': 1,
        'coarse-conversion-value': 'high',
      }),
      signedSkan(signer, {
        'source-identifier': '7701',
        'did-win': false,
        'source-app-id': undefined,
      }),
      signedSkan(signer, { 'ad-network-id': 'other.skadnetwork', 'source-identifier': '31' }),
    ];
    for (const b of bodies) expect((await post(SKAN, b)).status).toBe(200);
    // A forged copy is never counted.
    expect((await post(SKAN, { ...bodies[0], 'source-identifier': '7799' })).status).toBe(200);
    const r = (await admin(base, '/api/reports?env_id=env_t&group_by=campaign')).body;
    // The deterministic rows and totals are what they were.
    expect(r.rows).toEqual(before.rows);
    expect(r.totals).toEqual(before.totals);
    const det = r.rows.find((x: any) => x.key === 'c1');
    expect(det).toMatchObject({ clicks: 1, conversions: 1 });
    expect(r.skan.source).toBe('apple_postbacks');
    expect(r.skan.notes.join(' ')).toMatch(/never included in the rows and totals/);
    const c1 = r.skan.rows.find((x: any) => x.key === 'c1');
    expect(c1).toMatchObject({
      campaign_id: 'c1',
      app_id: '1234567890',
      app_name: 'Shop app',
      ad_network_id: 'net.example.skadnetwork',
      sources: ['77', '7701', '7702'],
      installs: 2,
      redownloads: 1,
      non_winning: 1,
      events: [
        { event: 'CompleteRegistration', window: 0, count: 2 },
        { event: 'Purchase', window: 0, count: 1 },
        { event: 'Purchase', window: 1, count: 1 },
      ],
      revenue: [{ currency: 'USD', min: 11, max: 39, mid: 25 }],
    });
    expect(r.skan.rows.find((x: any) => x.key === 'other.skadnetwork:31')).toMatchObject({
      campaign_id: null,
      installs: 1,
    });
    // A campaign filter keeps that campaign's SKAN row only.
    const only = (await admin(base, '/api/reports?env_id=env_t&group_by=campaign&campaign_id=c1'))
      .body;
    expect(only.skan.rows.map((x: any) => x.key)).toEqual(['c1']);
    // An environment without iOS apps has no SKAN section.
    expect((await admin(base, '/api/reports?env_id=env_web')).body.skan).toBeUndefined();
  });

  it("APB10 Apple's 3.0 example replayed with unsigned fields added is counted once, in the campaign it signs", async () => {
    const tx = SKAN_3_WIN['transaction-id'];
    const conflicts = await metric('skadnetwork', 'conflicting_replay');
    // 3.0 signs campaign-id and did-win, not postback-sequence-index nor source-identifier.
    const replays = [
      { ...SKAN_3_WIN, 'postback-sequence-index': 1, 'source-identifier': '7701' },
      { ...SKAN_3_WIN, 'postback-sequence-index': 2 },
      { ...SKAN_3_WIN, 'postback-sequence-index': 1 },
    ];
    for (const b of [SKAN_3_WIN, ...replays]) expect((await post(SKAN, b)).status).toBe(200);
    // did-win is signed from 3.0: a flipped one is no postback of Apple's.
    expect((await post(SKAN, { ...SKAN_3_WIN, 'did-win': false })).status).toBe(200);
    const rows = byTx(await list('env_id=env_t&framework=skadnetwork&limit=500'), tx);
    const counted = rows.filter((r) => r.verified);
    expect(counted).toHaveLength(1);
    expect(counted[0]).toMatchObject({ version: '3.0', campaign_id: '42', sequence_index: 0 });
    const v3 = rows.filter((r) => r.version === '3.0' && !r.verified);
    expect(v3.map((r) => r.reason).sort()).toEqual([
      'bad_signature',
      'conflicting_replay',
      'conflicting_replay',
      'conflicting_replay',
    ]);
    for (const r of rows) {
      expect(r.sequence_index).toBe(0);
      expect(r.source_identifier).toBeNull();
    }
    expect(await metric('skadnetwork', 'conflicting_replay')).toBe(conflicts + 3);
    const skan = (await admin(base, '/api/reports?env_id=env_t&group_by=campaign')).body.skan;
    expect(skan.rows.find((x: any) => x.key === 'c77')).toBeUndefined();
    // The winning 3.0 example (a redownload) and the losing one, both campaign 42.
    expect(skan.rows.find((x: any) => x.key === 'c42')).toMatchObject({
      sources: ['42'],
      source_kind: 'campaign_id',
      postbacks: 1,
      redownloads: 1,
      installs: 0,
      non_winning: 1,
    });
  });

  it('APB09 a postback the store cannot take is answered 503 + Retry-After, so the device sends it again', async () => {
    const store = openSqliteStore(tempDir());
    await store.migrate();
    const failing = Object.assign(Object.create(store), {
      recordPostback: async () => {
        throw new Error('disk full');
      },
    });
    const cfg = testConfig('http://127.0.0.1:9/hook');
    const other = await startPixeltrail(
      { ...cfg, apps: [{ app_id: 1234567890, platform: 'ios', env_id: 'env_t' }] },
      tempDir(),
      { store: failing },
    );
    try {
      const res = await fetch(`${other.base}${SKAN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(signedSkan(signer)),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      const text = await (await fetch(`${other.base}/metrics`)).text();
      expect(text).toContain(
        'pixeltrail_apple_postbacks_total{framework="skadnetwork",result="store_failed"} 1',
      );
    } finally {
      await other.server.close();
    }
  });
});
