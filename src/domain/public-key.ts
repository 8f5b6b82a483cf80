import { createPublicKey, type KeyObject } from 'node:crypto';

/** Keys read once each: Apple's few, and the config's short list of test keys. */
const parsed = new Map<string, KeyObject>();

/** A Base64 DER SubjectPublicKeyInfo (the form Apple publishes) as a key; throws on one that is not. */
export function spki(base64: string): KeyObject {
  let key = parsed.get(base64);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
    parsed.set(base64, key);
  }
  return key;
}
