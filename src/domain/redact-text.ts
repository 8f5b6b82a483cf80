/**
 * Patterns of personal data and credentials inside free text (error messages, response
 * excerpts echoed by a platform): emails, phone numbers, IPv4/IPv6 addresses, bearer and
 * query-string tokens. Over-masking a log is cheap; leaking one is not.
 */
import { type EmailShape, isAsciiLetter, notSpaceOrAt, replaceEmails } from './email-spans.js';

/** Not in a local part here: quotes and brackets around an address in a message. */
const LOCAL_STOP = new Set([...'"<>()[],;:'].map((c) => c.charCodeAt(0)));

/**
 * Any run of non-space before the @ (RFC 5322 local parts allow !#$%&'*+/=?^`{|}~). Found from
 * each `@` (email-spans.ts): as a regular expression it tried every start position and was
 * quadratic in a long line without one.
 */
export const EMAIL_IN_TEXT: EmailShape = {
  localChar: (c) => notSpaceOrAt(c) && !LOCAL_STOP.has(c),
  domainChar: (c) => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || isAsciiLetter(c),
};
/** The other patterns: each starts at a character or word boundary and is linear. */
const TEXT_PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 ****'],
  [
    /([?&"'\s](?:access_token|api_secret|token|key|secret|sig|password|write_key|admin_token)["']?\s*[=:]\s*["']?)[^&"'\s,}]+/gi,
    '$1****',
  ],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '[ip]'],
  [/\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b/gi, '[ip]'],
  // International (+…), North American (555-123-4567) and European (06 12 34 56 78) forms;
  // bare digit runs are left alone, they are mostly timestamps and ids.
  [/\+\d[\d\s().-]{6,}\d/g, '[phone]'],
  [/\b\d{3}[\s.-]\d{3}[\s.-]\d{4}\b/g, '[phone]'],
  [/\b0\d(?:[\s.-]\d{2}){4}\b/g, '[phone]'],
];

/** Free text with personal data and credentials masked. */
export function redactText(text: string): string {
  let out = replaceEmails(text, EMAIL_IN_TEXT, '[email]');
  for (const [re, by] of TEXT_PATTERNS) out = out.replace(re, by);
  return out;
}
