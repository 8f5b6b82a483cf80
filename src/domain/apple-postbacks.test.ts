import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AAK_DEV,
  AAK_DEV_APP_ID,
  AAK_ILLUSTRATIVE_PRODUCTION,
  SKAN_1_0_REAL,
  SKAN_2_0_REAL,
  SKAN_2_1,
  SKAN_2_2,
  SKAN_3_LOSS,
  SKAN_3_WIN,
  SKAN_4_COARSE,
  SKAN_4_FINE,
  signedAak,
  signedSkan,
  testSigner,
} from '../../test/fixtures/apple-postbacks.js';
import { checkAakPostback } from './adattributionkit.js';
import { bodyDigest, type PostbackTrust } from './apple-postback.js';
import { checkSkanPostback, skanSignedString } from './skadnetwork.js';

const APPLE_ONLY: PostbackTrust = { test_keys: [], accept_development: false };

describe("SKAdNetwork postbacks: Apple's published examples and keys", () => {
  it.each([
    ['4.0 fine value', SKAN_4_FINE, 'apple-p256'],
    ['4.0 coarse value', SKAN_4_COARSE, 'apple-p256'],
    ['3.0 winning', SKAN_3_WIN, 'apple-p256'],
    ['3.0 not winning', SKAN_3_LOSS, 'apple-p256'],
    ['2.2', SKAN_2_2, 'apple-p256'],
    ['2.1', SKAN_2_1, 'apple-p256'],
    ['2.0 (P-192)', SKAN_2_0_REAL, 'apple-p192'],
    ['1.0 (P-192)', SKAN_1_0_REAL, 'apple-p192'],
  ])('AP10 %s verifies with the key Apple publishes for its version', (_, body, key) => {
    expect(checkSkanPostback(body, APPLE_ONLY).verification).toEqual({
      verified: true,
      key_id: key,
    });
  });

  it('AP11 reads every field of a 4.0 postback', () => {
    expect(checkSkanPostback(SKAN_4_FINE, APPLE_ONLY).postback).toEqual({
      framework: 'skadnetwork',
      version: '4.0',
      transaction_id: '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30',
      ad_network_id: 'com.example',
      app_id: '525463029',
      campaign_id: null,
      source_identifier: '5239',
      source_app_id: null,
      source_domain: 'example.com',
      fine_value: 63,
      coarse_value: null,
      sequence_index: 0,
      did_win: true,
      redownload: false,
      conversion_type: null,
      fidelity_type: 1,
      interaction_type: null,
      country_code: null,
      marketplace_id: null,
    });
    const coarse = checkSkanPostback(SKAN_4_COARSE, APPLE_ONLY).postback;
    expect([coarse?.coarse_value, coarse?.fine_value, coarse?.source_identifier]).toEqual([
      'high',
      null,
      '39',
    ]);
    const v3 = checkSkanPostback(SKAN_3_LOSS, APPLE_ONLY).postback;
    expect([v3?.campaign_id, v3?.did_win, v3?.source_app_id]).toEqual(['42', false, null]);
  });

  it('AP12 the signed string is the documented order, without the conversion values', () => {
    const p = checkSkanPostback(SKAN_4_FINE, APPLE_ONLY).postback!;
    expect(skanSignedString(p)?.split('\u2063')).toEqual([
      '4.0',
      'com.example',
      '5239',
      '525463029',
      '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30',
      'false',
      'example.com',
      '1',
      'true',
      '0',
    ]);
  });

  it.each([
    ['source-identifier', '5238'],
    ['app-id', 525463028],
    ['transaction-id', '6aafb7a5-0170-41b5-bbe4-fe71dedf1e29'],
    ['ad-network-id', 'com.attacker'],
    ['redownload', true],
    ['did-win', false],
    ['fidelity-type', 0],
    ['postback-sequence-index', 1],
    ['source-domain', 'attacker.example'],
  ])('AP13 a 4.0 postback with %s changed fails verification', (field, value) => {
    const v = checkSkanPostback({ ...SKAN_4_FINE, [field]: value }, APPLE_ONLY).verification;
    expect(v).toMatchObject({ verified: false, reason: 'bad_signature' });
  });

  it('AP14 the conversion values are not signed (so replays are compared whole, elsewhere)', () => {
    const v = checkSkanPostback({ ...SKAN_4_FINE, 'conversion-value': 1 }, APPLE_ONLY);
    expect(v.verification.verified).toBe(true);
    expect(bodyDigest({ ...SKAN_4_FINE, 'conversion-value': 1 })).not.toBe(bodyDigest(SKAN_4_FINE));
    // Key order and spacing do not make a different body.
    const reordered = Object.fromEntries(Object.entries(SKAN_4_FINE).reverse());
    expect(bodyDigest(reordered)).toBe(bodyDigest(SKAN_4_FINE));
  });

  it('AP15 a 2.x postback verified with the other curve does not pass', () => {
    // Version 2.1 is P-256: claiming 2.0 moves it to the P-192 key, which refuses it.
    const v = checkSkanPostback({ ...SKAN_2_1, version: '2.0' }, APPLE_ONLY).verification;
    expect(v).toMatchObject({ verified: false, reason: 'bad_signature' });
  });

  it.each([
    ['not an object', [1, 2], 'malformed'],
    ['no transaction id', { ...SKAN_4_FINE, 'transaction-id': undefined }, 'malformed'],
    ['a fine value over 63', { ...SKAN_4_FINE, 'conversion-value': 64 }, 'malformed'],
    [
      'a coarse value out of the list',
      { ...SKAN_4_COARSE, 'coarse-conversion-value': 'max' },
      'malformed',
    ],
    ['no signature', { ...SKAN_4_FINE, 'attribution-signature': undefined }, 'malformed'],
    [
      'a signature that is no Base64',
      { ...SKAN_4_FINE, 'attribution-signature': '%%' },
      'malformed',
    ],
    [
      'garbage of the right shape',
      { ...SKAN_4_FINE, 'attribution-signature': 'AAAA' },
      'bad_signature',
    ],
    ['an unknown version', { ...SKAN_4_FINE, version: '9.0' }, 'unsupported_version'],
    ['a version of the wrong type', { ...SKAN_4_FINE, version: 4 }, 'malformed'],
  ])('AP16 %s is not verified (%s)', (_, body, reason) => {
    const clean = JSON.parse(JSON.stringify(body));
    expect(checkSkanPostback(clean, APPLE_ONLY).verification).toMatchObject({
      verified: false,
      reason,
    });
  });

  it('AP17 a test key ADDS trust: its postbacks verify, Apple-signed ones still do', () => {
    const signer = testSigner();
    const trust: PostbackTrust = {
      test_keys: [{ id: 'ci', public_key: signer.publicKey }],
      accept_development: false,
    };
    const mine = signedSkan(signer, { 'conversion-value': 5 });
    expect(checkSkanPostback(mine, trust).verification).toEqual({
      verified: true,
      key_id: 'test:ci',
    });
    expect(checkSkanPostback(mine, APPLE_ONLY).verification).toMatchObject({
      reason: 'bad_signature',
    });
    expect(checkSkanPostback(SKAN_4_FINE, trust).verification).toEqual({
      verified: true,
      key_id: 'apple-p256',
    });
    expect(
      checkSkanPostback({ ...mine, 'source-identifier': '9999' }, trust).verification,
    ).toMatchObject({ verified: false, reason: 'bad_signature' });
  });

  it.each(['1.0', '2.0', '2.1', '2.2', '3.0'])(
    'AP18 a %s postback signed in that version order verifies with a test key',
    (version) => {
      const signer = testSigner(version === '1.0' || version === '2.0' ? 'P-192' : 'P-256');
      const trust = {
        test_keys: [{ id: 'ci', public_key: signer.publicKey }],
        accept_development: false,
      };
      const v4only = { 'source-identifier': undefined, 'postback-sequence-index': undefined };
      const body = signedSkan(signer, { version, 'campaign-id': 7, ...v4only });
      expect(checkSkanPostback(body, trust).verification).toEqual({
        verified: true,
        key_id: 'test:ci',
      });
      expect(checkSkanPostback({ ...body, 'campaign-id': 8 }, trust).verification.verified).toBe(
        false,
      );
    },
  );
  it.each([
    ['postback-sequence-index', 2, 'sequence_index', 0],
    ['source-identifier', '7701', 'source_identifier', null],
  ])(
    'AP19 a 3.0 postback with an unsigned %s added still verifies, and the value is not read',
    (field, value, key, expected) => {
      const { postback, verification } = checkSkanPostback(
        { ...SKAN_3_WIN, [field]: value },
        APPLE_ONLY,
      );
      expect(verification.verified).toBe(true);
      expect(postback?.[key as keyof typeof postback]).toBe(expected);
      expect(postback?.campaign_id).toBe('42');
    },
  );

  it('AP19 each version keeps only what it signs: did-win from 3.0, fidelity from 2.2, sequence and source-identifier from 4.0', () => {
    const junk = {
      'did-win': false,
      'postback-sequence-index': 1,
      'source-identifier': '7701',
      'source-domain': 'attacker.example',
    };
    const v22 = checkSkanPostback({ ...SKAN_2_2, ...junk }, APPLE_ONLY);
    expect(v22.verification.verified).toBe(true);
    expect(v22.postback).toMatchObject({
      campaign_id: '42',
      did_win: null,
      sequence_index: 0,
      source_identifier: null,
      source_domain: null,
      fidelity_type: 1,
    });
    const v21 = checkSkanPostback({ ...SKAN_2_1, ...junk, 'fidelity-type': 0 }, APPLE_ONLY);
    expect(v21.verification.verified).toBe(true);
    expect(v21.postback).toMatchObject({ did_win: null, fidelity_type: null, sequence_index: 0 });
    const v1 = checkSkanPostback(
      { ...SKAN_1_0_REAL, ...junk, redownload: true, 'source-app-id': 5 },
      APPLE_ONLY,
    );
    expect(v1.verification.verified).toBe(true);
    expect(v1.postback).toMatchObject({
      campaign_id: '51',
      redownload: null,
      source_app_id: null,
      did_win: null,
    });
    // 4.0 signs source-identifier, not campaign-id: an added campaign-id is not read.
    const v4 = checkSkanPostback({ ...SKAN_4_FINE, 'campaign-id': 42 }, APPLE_ONLY);
    expect(v4.verification.verified).toBe(true);
    expect([v4.postback?.campaign_id, v4.postback?.source_identifier]).toEqual([null, '5239']);
  });
});

describe('AdAttributionKit postbacks', () => {
  it("AP20 Apple's development example verifies with Apple's development key, counted only when accepted", async () => {
    const refused = await checkAakPostback(AAK_DEV, APPLE_ONLY);
    expect(refused.verification).toMatchObject({
      verified: false,
      reason: 'development_key',
      key_id: 'apple-development-identifier/1',
    });
    const accepted = await checkAakPostback(AAK_DEV, { test_keys: [], accept_development: true });
    expect(accepted.verification).toEqual({
      verified: true,
      key_id: 'apple-development-identifier/1',
    });
    expect(accepted.postback).toMatchObject({
      framework: 'adattributionkit',
      transaction_id: '85546EB7-FD39-44BC-8990-C98A4AC36A49',
      ad_network_id: 'development.adattributionkit',
      app_id: AAK_DEV_APP_ID,
      source_identifier: '1234',
      source_app_id: '0',
      fine_value: 24,
      sequence_index: 0,
      did_win: true,
      redownload: false,
      conversion_type: 're-engagement',
      interaction_type: 'click',
      country_code: 'US',
      marketplace_id: 'com.apple.AppStore',
    });
  });

  it("AP21 the page's illustrative production example does not verify with Apple's production key", async () => {
    const v = await checkAakPostback(AAK_ILLUSTRATIVE_PRODUCTION, APPLE_ONLY);
    expect(v.verification).toMatchObject({
      verified: false,
      reason: 'bad_signature',
      key_id: 'apple-cas-identifier/0',
    });
    expect(v.postback?.coarse_value).toBe('medium');
  });

  it('AP22 a test key verifies under its own kid only; a tampered payload or another alg fails', async () => {
    const signer = testSigner();
    const trust = {
      test_keys: [{ id: 'ci', public_key: signer.publicKey }],
      accept_development: false,
    };
    const good = await signedAak(signer, 'ci', {}, { 'conversion-value': 7 });
    expect((await checkAakPostback(good, trust)).verification).toEqual({
      verified: true,
      key_id: 'test:ci',
    });
    // Signed by the test key but claiming Apple's production kid: Apple's key refuses it.
    const claimsApple = await signedAak(signer, 'apple-cas-identifier/0');
    expect((await checkAakPostback(claimsApple, trust)).verification).toMatchObject({
      reason: 'bad_signature',
    });
    const unknown = await signedAak(signer, 'nobody');
    expect((await checkAakPostback(unknown, trust)).verification).toMatchObject({
      reason: 'unknown_key',
    });
    const [h, p, s] = String(good['jws-string']).split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, 'source-identifier': '9999' })).toString(
      'base64url',
    );
    expect(
      (await checkAakPostback({ ...good, 'jws-string': `${h}.${forged}.${s}` }, trust))
        .verification,
    ).toMatchObject({ reason: 'bad_signature' });
    // The header never picks the algorithm: a valid ES256 signature under `alg: HS256` fails.
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'ci' })).toString('base64url');
    const input = `${header}.${p}`;
    const sig = sign('sha256', Buffer.from(input), {
      key: signer.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    expect(
      (await checkAakPostback({ ...good, 'jws-string': `${input}.${sig}` }, trust)).verification,
    ).toMatchObject({ reason: 'bad_signature', detail: 'the JWS must be signed with ES256' });
  });

  it.each([
    ['no jws-string', { 'conversion-value': 1 }],
    ['a jws-string that is no JWS', { 'jws-string': 'a.b' }],
    ['a payload that is no JSON', { 'jws-string': 'eyJhbGciOiJFUzI1NiJ9.bm9wZQ.AAAA' }],
  ])('AP23 %s is malformed', async (_, body) => {
    expect((await checkAakPostback(body, APPLE_ONLY)).verification).toMatchObject({
      verified: false,
      reason: 'malformed',
    });
  });
});
