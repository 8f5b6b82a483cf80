import { describe, expect, it } from 'vitest';
import { SEALED_PREFIX, SecretBox } from './secret-box.js';

const KEY = 'k'.repeat(44);

describe('SecretBox', () => {
  it('SB01 a sealed secret opens with the same key and context, and does not show the secret', () => {
    const box = SecretBox.fromKey(KEY);
    const sealed = box.seal('EAAB-token', 'env/meta1/access_token');
    expect(sealed.startsWith(SEALED_PREFIX)).toBe(true);
    expect(sealed).not.toContain('EAAB');
    expect(box.seal('EAAB-token', 'env/meta1/access_token')).not.toBe(sealed);
    expect(box.open(sealed, 'env/meta1/access_token')).toEqual({
      ok: true,
      value: 'EAAB-token',
      stale: false,
    });
  });

  it('SB02 another key, another context or a changed byte does not open', () => {
    const box = SecretBox.fromKey(KEY);
    const sealed = box.seal('EAAB-token', 'env/meta1/access_token');
    expect(SecretBox.fromKey('x'.repeat(44)).open(sealed, 'env/meta1/access_token').ok).toBe(false);
    expect(box.open(sealed, 'env/meta2/access_token').ok).toBe(false);
    const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    bytes[bytes.length - 1] ^= 1;
    const tampered = SEALED_PREFIX + bytes.toString('base64url');
    expect(box.open(tampered, 'env/meta1/access_token').ok).toBe(false);
    expect(box.open(`${SEALED_PREFIX}abc`, 'env/meta1/access_token').ok).toBe(false);
  });

  it('SB03 a value sealed under a previous key opens, marked stale; sealing uses the current key', () => {
    const old = SecretBox.fromKey(KEY);
    const sealed = old.seal('EAAB-token', 'env/meta1/access_token');
    const NEW = 'n'.repeat(44);
    const rotated = SecretBox.fromKey(NEW, [KEY]);
    expect(rotated.open(sealed, 'env/meta1/access_token')).toEqual({
      ok: true,
      value: 'EAAB-token',
      stale: true,
    });
    const resealed = rotated.seal('EAAB-token', 'env/meta1/access_token');
    expect(SecretBox.fromKey(NEW).open(resealed, 'env/meta1/access_token')).toMatchObject({
      ok: true,
      stale: false,
    });
    expect(old.open(resealed, 'env/meta1/access_token').ok).toBe(false);
    // Neither key: the reason names both settings.
    const other = SecretBox.fromKey('o'.repeat(44), ['p'.repeat(44)]);
    expect(other.open(sealed, 'env/meta1/access_token')).toEqual({
      ok: false,
      reason: 'cannot be decrypted with the configured secrets_key or secrets_key_previous',
    });
    // The context still binds under a previous key.
    expect(rotated.open(sealed, 'env/meta2/access_token').ok).toBe(false);
  });
});
