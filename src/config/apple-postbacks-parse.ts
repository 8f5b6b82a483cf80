import type { ApplePostbacksConfig, TrustedKey } from '../domain/apple-postback.js';
import { spki } from '../domain/public-key.js';
import { isObj, type Reader } from './config-reader.js';

const KEYS = new Set(['accept_development', 'test_keys', 'unverified_kept_per_hour']);
/** Unverified postbacks kept per environment and hour, by default: a sample to diagnose with. */
const DEFAULT_UNVERIFIED_KEPT_PER_HOUR = 30;
const KEY_ID_RE = /^[A-Za-z0-9_./-]{1,64}$/;

/**
 * Reads `apple_postbacks` (issue 25): whether AdAttributionKit postbacks signed with Apple's
 * development keys count, and `test_keys`, public keys trusted BESIDE Apple's (for tests and
 * staging; a postback Apple's key refuses is never accepted because of them, and Apple's
 * production key is never replaced). A test key's id may not pass for Apple's key ids.
 * `unverified_kept_per_hour`: how many unverified postbacks each environment keeps as rows an
 * hour (the rest are counted only).
 */
export function parseApplePostbacks(r: Reader, raw: unknown): ApplePostbacksConfig {
  if (raw === undefined)
    return {
      test_keys: [],
      accept_development: false,
      unverified_kept_per_hour: DEFAULT_UNVERIFIED_KEPT_PER_HOUR,
    };
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: 'apple_postbacks', message: 'must be an object' });
  for (const k of Object.keys(o))
    if (!KEYS.has(k))
      r.errors.push({ field: `apple_postbacks.${k}`, message: 'is not a known field' });
  const accept_development = r.bool(
    o,
    'accept_development',
    'apple_postbacks.accept_development',
    false,
  );
  const list = o.test_keys === undefined ? [] : o.test_keys;
  if (!Array.isArray(list))
    r.errors.push({
      field: 'apple_postbacks.test_keys',
      message: 'must be a list of {id, public_key}',
    });
  const test_keys = (Array.isArray(list) ? list : []).map((k, i) => testKey(r, k, i));
  const ids = test_keys.map((k) => k.id);
  if (new Set(ids).size !== ids.length)
    r.errors.push({ field: 'apple_postbacks.test_keys', message: 'key ids must be unique' });
  const unverified_kept_per_hour = r.count(
    o,
    'unverified_kept_per_hour',
    'apple_postbacks.unverified_kept_per_hour',
    DEFAULT_UNVERIFIED_KEPT_PER_HOUR,
  );
  return { test_keys, accept_development, unverified_kept_per_hour };
}

function testKey(r: Reader, raw: unknown, i: number): TrustedKey {
  const path = `apple_postbacks.test_keys[${i}]`;
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be {id, public_key}' });
  const id = r.str(o, 'id', `${path}.id`);
  if (id && (!KEY_ID_RE.test(id) || id.startsWith('apple-')))
    r.errors.push({
      field: `${path}.id`,
      message: 'must be 1-64 of A-Z a-z 0-9 _ . / - and not start with apple-',
    });
  const public_key = r.str(o, 'public_key', `${path}.public_key`);
  if (public_key) {
    try {
      const key = spki(public_key);
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (key.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'prime192v1'))
        r.errors.push({ field: `${path}.public_key`, message: 'must be a P-256 or P-192 key' });
    } catch {
      r.errors.push({
        field: `${path}.public_key`,
        message: 'must be a Base64 DER public key (openssl ec -pubout -outform DER | base64)',
      });
    }
  }
  for (const k of Object.keys(o))
    if (k !== 'id' && k !== 'public_key')
      r.errors.push({ field: `${path}.${k}`, message: 'is not a known field' });
  return { id, public_key };
}
