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

export type OpenResult = { ok: true; value: string } | { ok: false; reason: string };

/**
 * Encrypts secrets at rest with AES-256-GCM (NIST SP 800-38D: 96-bit random IV, 128-bit
 * tag). `context` is authenticated, not stored: a sealed value copied to another field or
 * destination does not open there.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Derives the AES key from the configured `secrets_key` (once per process: scrypt is slow). */
  static fromKey(secretsKey: string): SecretBox {
    return new SecretBox(scryptSync(secretsKey, KEY_SALT, KEY_BYTES));
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
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return { ok: true, value: plain.toString('utf8') };
    } catch {
      return { ok: false, reason: 'cannot be decrypted with the configured secrets_key' };
    }
  }
}
