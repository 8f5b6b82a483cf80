import { type KeyObject, verify } from 'node:crypto';
import { APPLE_P192_KEY, APPLE_P256_KEY } from './apple-keys.js';
import {
  type ApplePostback,
  type CheckedPostback,
  type PostbackTrust,
  unverified,
  type Verification,
} from './apple-postback.js';
import { type Body, Fields, MAX_FINE_VALUE, MAX_SEQUENCE_INDEX } from './postback-fields.js';
import { spki } from './public-key.js';

/**
 * SKAdNetwork install-validation postbacks: reading one and checking Apple's signature.
 *
 * Apple signs, with ECDSA over SHA-256, the UTF-8 string of some of the postback's values
 * joined by U+2063 (INVISIBLE SEPARATOR), in an order that depends on the version; the
 * conversion values are never part of it. Versions 1.0 and 2.0 are signed with Apple's P-192
 * key, 2.1 and later with its P-256 key (apple-keys.ts). The orders, per version:
 * - 4.0: https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback
 * - 3.0: https://developer.apple.com/documentation/storekit/combining-parameters-for-skadnetwork-3-postbacks
 * - 2.2, 2.0/2.1, 1.0:
 *   https://developer.apple.com/documentation/storekit/combining-parameters-for-previous-skadnetwork-postback-versions
 * The parameters: https://developer.apple.com/documentation/storekit/identifying-the-parameters-in-install-validation-postbacks
 */

const SEPARATOR = '\u2063';
type Part = 'campaign' | 'source' | 'fidelity' | 'did-win' | 'sequence';

/** What each version's signed string holds, beyond version 1's four values. */
const VERSIONS: Readonly<Record<string, { curve: 'p192' | 'p256'; parts: readonly Part[] }>> = {
  '1.0': { curve: 'p192', parts: [] },
  '2.0': { curve: 'p192', parts: [] },
  '2.1': { curve: 'p256', parts: [] },
  '2.2': { curve: 'p256', parts: ['fidelity'] },
  '3.0': { curve: 'p256', parts: ['fidelity', 'did-win'] },
  '4.0': { curve: 'p256', parts: ['fidelity', 'did-win', 'sequence'] },
};

const APPLE_KEYS: Record<'p192' | 'p256', KeyObject> = {
  p192: spki(APPLE_P192_KEY),
  p256: spki(APPLE_P256_KEY),
};

/** The version a body claims: `1.0` when it names none, as version 1 postbacks do. */
function versionOf(o: Body): string | null {
  const v = o.version;
  if (v === undefined || v === null) return '1.0';
  return typeof v === 'string' ? v : null;
}

/**
 * Reads a SKAdNetwork postback; a string names the first bad field. Only what the version
 * signs is read, with the conversion values Apple defines for it (never signed, in any
 * version): a field the version does not sign (a `postback-sequence-index` or
 * `source-identifier` added to a 3.0 postback, `did-win` to a 2.2 one, `campaign-id` to a 4.0
 * one) is anyone's to add, so it must not pick the dedup key, the campaign or what is counted.
 * It stays in the body as received. The parameters and the versions that have them:
 * https://developer.apple.com/documentation/storekit/identifying-the-parameters-in-install-validation-postbacks
 */
export function readSkanPostback(o: Body): ApplePostback | string {
  const version = versionOf(o);
  if (version === null) return 'version must be a string such as "4.0"';
  const spec = VERSIONS[version];
  // A version we know no signature of is read as the newest (it is never counted anyway).
  const signs = (part: Part) => (spec ?? VERSIONS['4.0']).parts.includes(part);
  const v4 = version.startsWith('4.') || spec === undefined;
  const v1 = version === '1.0';
  const f = new Fields(o);
  const source_app_id = v1 ? null : f.digits('source-app-id', false);
  const p: ApplePostback = {
    framework: 'skadnetwork',
    version,
    transaction_id: f.text('transaction-id', true) ?? '',
    ad_network_id: f.text('ad-network-id', true) ?? '',
    app_id: f.digits('app-id', true) ?? '',
    campaign_id: v4 ? null : f.digits('campaign-id', true),
    source_identifier: v4 ? f.digits('source-identifier', spec !== undefined) : null,
    source_app_id,
    // 4.0 signs source-domain in source-app-id's place, for a web ad.
    source_domain: v4 && source_app_id === null ? f.text('source-domain', false) : null,
    fine_value: v1 ? null : f.int('conversion-value', MAX_FINE_VALUE),
    coarse_value: v4 ? f.coarse('coarse-conversion-value') : null,
    // Before 4.0 there is one postback, the first window's.
    sequence_index: signs('sequence')
      ? (f.int('postback-sequence-index', MAX_SEQUENCE_INDEX) ?? 0)
      : 0,
    // Before 3.0 only the winner got a postback: did-win is not theirs to say (null).
    did_win: signs('did-win') ? f.bool('did-win', spec !== undefined) : null,
    redownload: v1 ? null : f.bool('redownload', true),
    conversion_type: null,
    fidelity_type: signs('fidelity') ? f.int('fidelity-type', 1) : null,
    interaction_type: null,
    country_code: f.text('country-code', false),
    marketplace_id: null,
  };
  if (spec?.parts.includes('fidelity') && p.fidelity_type === null)
    return 'fidelity-type is missing';
  if (spec?.parts.includes('sequence') && o['postback-sequence-index'] === undefined)
    return 'postback-sequence-index is missing';
  return f.problem ?? p;
}

/**
 * The string Apple signed for this postback: its values in the version's order, joined by
 * U+2063. Booleans are `true`/`false`; `source-app-id` (or, for a web ad, `source-domain`)
 * only when the postback has it. Null for a version Apple documents no order for.
 */
export function skanSignedString(p: ApplePostback): string | null {
  const spec = p.version === null ? undefined : VERSIONS[p.version];
  if (!spec) return null;
  const bool = (b: boolean | null) => (b ? 'true' : 'false');
  const id = p.version === '4.0' ? p.source_identifier : p.campaign_id;
  if (p.version === '1.0') return [p.ad_network_id, id, p.app_id, p.transaction_id].join(SEPARATOR);
  const values: string[] = [p.version ?? '', p.ad_network_id, id ?? '', p.app_id, p.transaction_id];
  values.push(bool(p.redownload));
  const source = p.source_app_id ?? (p.version === '4.0' ? p.source_domain : null);
  if (source !== null) values.push(source);
  if (spec.parts.includes('fidelity')) values.push(String(p.fidelity_type ?? ''));
  if (spec.parts.includes('did-win')) values.push(bool(p.did_win));
  if (spec.parts.includes('sequence')) values.push(String(p.sequence_index));
  return values.join(SEPARATOR);
}

function signatureOk(key: KeyObject, message: string, signature: Buffer): boolean {
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), key, signature);
  } catch {
    // A key of another curve, or a signature that is not DER: it does not verify.
    return false;
  }
}

/**
 * Reads and checks a SKAdNetwork postback: Apple's key for its version, then each trusted
 * test key (which only ever adds: a postback Apple's key refuses can still verify with a
 * test key, never the other way round).
 */
export function checkSkanPostback(body: unknown, trust: PostbackTrust): CheckedPostback {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { postback: null, verification: unverified('malformed', 'the body is not an object') };
  const o = body as Body;
  const read = readSkanPostback(o);
  if (typeof read === 'string')
    return { postback: null, verification: unverified('malformed', read) };
  return { postback: read, verification: verifySkan(read, o['attribution-signature'], trust) };
}

function verifySkan(p: ApplePostback, sig: unknown, trust: PostbackTrust): Verification {
  const message = skanSignedString(p);
  if (message === null)
    return unverified('unsupported_version', `SKAdNetwork version ${p.version} is not known`);
  if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig))
    return unverified('malformed', 'attribution-signature must be Base64');
  const signature = Buffer.from(sig, 'base64');
  const curve = VERSIONS[p.version ?? '']?.curve ?? 'p256';
  if (signatureOk(APPLE_KEYS[curve], message, signature))
    return { verified: true, key_id: `apple-${curve}` };
  for (const k of trust.test_keys) {
    if (signatureOk(spki(k.public_key), message, signature))
      return { verified: true, key_id: `test:${k.id}` };
  }
  return unverified(
    'bad_signature',
    `attribution-signature does not verify with Apple's ${curve.toUpperCase()} key for version ${p.version}`,
  );
}
