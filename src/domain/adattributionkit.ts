import { compactVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { AAK_KEYS } from './apple-keys.js';
import {
  type ApplePostback,
  type CheckedPostback,
  type PostbackTrust,
  unverified,
} from './apple-postback.js';
import { type Body, Fields, MAX_FINE_VALUE, MAX_SEQUENCE_INDEX } from './postback-fields.js';
import { spki } from './public-key.js';

/**
 * AdAttributionKit postbacks: a JSON body whose `jws-string` is a compact JWS (ES256) that
 * Apple signs, with the conversion values, interaction type and country beside it, unsigned.
 * The JWS header's `kid` names Apple's key: `apple-cas-identifier/0` in production, two
 * development keys otherwise (apple-keys.ts). Verified with `jose` (RFC 7515 §5.2), ES256
 * only, whatever the header asks for.
 * - https://developer.apple.com/documentation/adattributionkit/verifying-a-postback
 * - https://developer.apple.com/documentation/adattributionkit/identifying-the-parameters-in-a-postback
 * - https://developer.apple.com/documentation/adattributionkit/receiving-ad-attributions-and-postbacks
 */

/** A compact JWS has three Base64url parts; Apple's are under 1 KB. */
const JWS_RE = /^[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,16384}\.[A-Za-z0-9_-]{1,1024}$/;
const CONVERSION_TYPES = new Set(['download', 'redownload', 're-engagement']);

const isBody = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JWS payload's claims, decoded but not yet trusted; null when it is no JSON object. */
function claimsOf(jws: string): Body | null {
  try {
    const claims: unknown = JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString());
    return isBody(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * Reads an AdAttributionKit postback: the signed claims of its JWS and the unsigned values
 * beside it; a string names the first bad field.
 */
export function readAakPostback(outer: Body, claims: Body): ApplePostback | string {
  const f = new Fields(claims);
  const u = new Fields(outer);
  const conversion_type = f.text('conversion-type', true);
  if (conversion_type !== null && !CONVERSION_TYPES.has(conversion_type))
    return 'conversion-type must be download, redownload or re-engagement';
  const interaction = u.text('ad-interaction-type', false);
  if (interaction !== null && interaction !== 'click' && interaction !== 'view')
    return 'ad-interaction-type must be click or view';
  const p: ApplePostback = {
    framework: 'adattributionkit',
    version: null,
    transaction_id: f.text('postback-identifier', true) ?? '',
    ad_network_id: f.text('ad-network-identifier', true) ?? '',
    app_id: f.digits('advertised-item-identifier', true) ?? '',
    campaign_id: null,
    source_identifier: f.digits('source-identifier', true),
    // Apple sends 0 for an impression from a development-signed publisher app.
    source_app_id: f.digits('publisher-item-identifier', false),
    source_domain: null,
    fine_value: u.int('conversion-value', MAX_FINE_VALUE),
    coarse_value: u.coarse('coarse-conversion-value'),
    sequence_index: f.int('postback-sequence-index', MAX_SEQUENCE_INDEX) ?? 0,
    did_win: f.bool('did-win', true),
    redownload: conversion_type === null ? null : conversion_type === 'redownload',
    conversion_type,
    fidelity_type: null,
    interaction_type: interaction,
    country_code: u.text('country-code', false),
    marketplace_id: f.text('marketplace-identifier', false),
  };
  if (claims['postback-sequence-index'] === undefined) return 'postback-sequence-index is missing';
  return f.problem ?? u.problem ?? p;
}

/**
 * Reads and checks an AdAttributionKit postback. The key comes from the JWS `kid`: Apple's
 * (production; development only when accepted) or a trusted test key with that id; a kid
 * that names neither is never looked up anywhere.
 */
export async function checkAakPostback(
  body: unknown,
  trust: PostbackTrust,
): Promise<CheckedPostback> {
  const jws = isBody(body) ? body['jws-string'] : undefined;
  if (typeof jws !== 'string' || !JWS_RE.test(jws))
    return { postback: null, verification: unverified('malformed', 'jws-string must be a JWS') };
  const claims = claimsOf(jws);
  if (!claims || !isBody(body))
    return {
      postback: null,
      verification: unverified('malformed', 'the JWS payload is no object'),
    };
  const read = readAakPostback(body, claims);
  if (typeof read === 'string')
    return { postback: null, verification: unverified('malformed', read) };
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jws).kid;
  } catch {
    return { postback: read, verification: unverified('malformed', 'the JWS header is no JSON') };
  }
  const apple = kid === undefined ? undefined : AAK_KEYS[kid];
  const test = trust.test_keys.find((k) => k.id === kid);
  const key = apple?.key ?? test?.public_key;
  if (kid === undefined || key === undefined)
    return {
      postback: read,
      verification: unverified('unknown_key', `no key is trusted for kid ${kid ?? '(none)'}`),
    };
  const key_id = apple ? kid : `test:${kid}`;
  try {
    await compactVerify(jws, spki(key), { algorithms: ['ES256'] });
  } catch (err) {
    const detail =
      err instanceof joseErrors.JOSEAlgNotAllowed
        ? 'the JWS must be signed with ES256'
        : `the JWS signature does not verify with the key ${kid}`;
    return { postback: read, verification: unverified('bad_signature', detail, key_id) };
  }
  if (apple?.development && !trust.accept_development)
    return {
      postback: read,
      verification: unverified(
        'development_key',
        `signed with Apple's development key ${kid}: set apple_postbacks.accept_development to count these`,
        key_id,
      ),
    };
  return { postback: read, verification: { verified: true, key_id } };
}
