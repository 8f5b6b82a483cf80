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
    expect(box.open(sealed, 'env/meta1/access_token')).toEqual({ ok: true, value: 'EAAB-token' });
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
});
