import { createHash } from 'node:crypto';

/** Hex SHA-256, the form every ad platform expects for hashed identifiers. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const SHA256_HEX_RE = /^[0-9a-f]{64}$/;

/** True when the text already is a lower-case hex SHA-256 digest. */
export function isSha256Hex(text: string): boolean {
  return SHA256_HEX_RE.test(text);
}

/**
 * Emails are trimmed and lower-cased before hashing, as Meta CAPI and Google Enhanced
 * Conversions require; `null` when there is no plausible address left.
 */
export function normalizeEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : null;
}

/**
 * Phones become E.164 digits without `+` (Meta's `ph` rule): separators, spaces and a
 * leading `00` international prefix are dropped. `null` when fewer than 7 digits remain.
 */
export function normalizePhone(raw: string): string | null {
  let digits = raw.replace(/[^\d]/g, '');
  if (raw.trim().startsWith('00')) digits = digits.replace(/^00/, '');
  return digits.length >= 7 && digits.length <= 15 ? digits : null;
}

/** Hash of a normalized email, or `null` when the email is unusable. */
export function hashEmail(raw: string): string | null {
  const email = normalizeEmail(raw);
  return email ? sha256Hex(email) : null;
}

/** Hash of `+` and the E.164 digits, the form Google and TikTok match on. */
export function hashPhoneE164(raw: string): string | null {
  const phone = normalizePhone(raw);
  return phone ? sha256Hex(`+${phone}`) : null;
}

/** Hash of a normalized phone, or `null` when the phone is unusable. */
export function hashPhone(raw: string): string | null {
  const phone = normalizePhone(raw);
  return phone ? sha256Hex(phone) : null;
}
