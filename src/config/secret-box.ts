import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

/** Marks a sealed value; the version names the scheme (AES-256-GCM, scrypt-derived key). */
export const SEALED_PREFIX = 'enc:v1:';
/** Shortest accepted `secrets_key`: `openssl rand -base64 32` gives 44 characters. */
export const MIN_SECRETS_KEY_CHARS = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
// A fixed salt: the key is one per installation, and scrypt only slows guessing a weak one.
const KEY_SALT = 'pixeltrail/secrets_key/v1';

/** `stale`: opened with a previous key, so it should be sealed again with the current one. */
export type OpenResult =
  | { ok: true; value: string; stale: boolean }
  | { ok: false; reason: string };

/**
 * Encrypts secrets at rest with AES-256-GCM (NIST SP 800-38D: 96-bit random IV, 128-bit
 * tag). `context` is authenticated, not stored: a sealed value copied to another field or
 * destination does not open there.
 */
export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    private readonly previous: readonly Buffer[],
  ) {}

  /**
   * Derives the AES keys from the configured `secrets_key` and `secrets_key_previous` (once
   * per process: scrypt is slow). Seals with the current key; opens with any of them, so a
   * key can be rotated without losing what the old one sealed (as Django's
   * SECRET_KEY_FALLBACKS).
   */
  static fromKey(secretsKey: string, previousKeys: readonly string[] = []): SecretBox {
    const derive = (k: string) => scryptSync(k, KEY_SALT, KEY_BYTES);
    return new SecretBox(derive(secretsKey), previousKeys.map(derive));
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string, context: string): OpenResult {
    const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) return { ok: false, reason: 'is not a sealed value' };
    const keys = [this.key, ...this.previous];
    for (const [i, key] of keys.entries()) {
      const value = openWith(key, bytes, context);
      if (value !== null) return { ok: true, value, stale: i > 0 };
    }
    return {
      ok: false,
      reason: `cannot be decrypted with the configured secrets_key${this.previous.length > 0 ? ' or secrets_key_previous' : ''}`,
    };
  }
}

/** The plain text, or null when this key (or context) does not authenticate it. */
function openWith(key: Buffer, bytes: Buffer, context: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return null;
  }
}
