import { containsEmail, type EmailShape, notSpaceOrAt, replaceEmails } from './email-spans.js';

/**
 * Stored URLs lose the query parameters that carry personal data: shops put emails and phones
 * in confirmation and newsletter links (`?email=a@b.com`), and those must not sit in the store.
 */

/** Parameter names (lower case, `-` and `_` ignored) that name personal data or secrets. */
const PII_PARAM_NAMES = new Set([
  'email',
  'mail',
  'emailaddress',
  'phone',
  'phonenumber',
  'tel',
  'mobile',
  'name',
  'firstname',
  'lastname',
  'fname',
  'lname',
  'fullname',
  'address',
  'street',
  'zip',
  'zipcode',
  'postcode',
  'postalcode',
  'birthday',
  'dob',
  'ssn',
  'password',
  'pass',
  'pwd',
  'token',
  'accesstoken',
  'apikey',
  'secret',
]);
/**
 * Values that are emails, whatever the parameter is called: a local part, `@`, a domain with a
 * top-level label of two letters or more. Found in linear time (email-spans.ts): this runs on
 * every URL, referrer and `Referer` a request carries, up to a megabyte long.
 */
const NOT_IN_DOMAIN = new Set([...'/?&=#'].map((c) => c.charCodeAt(0)));
export const EMAIL_IN_URL: EmailShape = {
  localChar: notSpaceOrAt,
  domainChar: (c) => notSpaceOrAt(c) && !NOT_IN_DOMAIN.has(c),
};

/** Longer names cannot be one of PII_PARAM_NAMES, even spelt `e_m_a_i_l_a_d_d_r_e_s_s`. */
const MAX_PII_NAME_CHARS = 32;

const SEPARATOR_RE = /[-_\s]/g;

function isPiiName(name: string): boolean {
  const key = name.toLowerCase();
  if (PII_PARAM_NAMES.has(key)) return true;
  SEPARATOR_RE.lastIndex = 0;
  return SEPARATOR_RE.test(key) && PII_PARAM_NAMES.has(key.replace(SEPARATOR_RE, ''));
}

/** A query component as URLSearchParams reads it; a malformed escape decodes what it can. */
function decodeComponent(raw: string): string {
  const text = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    // Enough to see a `%40` (@) or `%2E` (.) next to a broken multi-byte escape.
    return text.replace(/%[0-7][0-9A-Fa-f]/g, (e) =>
      String.fromCharCode(Number.parseInt(e.slice(1), 16)),
    );
  }
}

/**
 * A query (or a fragment written like one, without its `?` or `#`) without its PII-looking
 * pairs, the others kept byte for byte; null when none was. One pass over the text: a
 * `URLSearchParams.delete` serialises the whole query on each call, which a query of
 * 100,000 email-valued parameters turned into minutes.
 */
function scrubPairs(query: string): string | null {
  // Stretches of consecutive kept pairs, copied as they are.
  const runs: string[] = [];
  let runStart = 0;
  // The next `@` and `%` after the pair: a value without either cannot hold an email.
  let nextAt = query.indexOf('@');
  let nextEscape = query.indexOf('%');
  // The next `=`, kept like them: searched afresh from every pair, a query of `a&a&a…` with
  // no `=` was read to its end once per pair (quadratic: 400 KB took 4.8 s).
  let nextEq = query.indexOf('=');
  for (let start = 0; start <= query.length; ) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (nextAt >= 0 && nextAt < start) nextAt = query.indexOf('@', start);
    if (nextEscape >= 0 && nextEscape < start) nextEscape = query.indexOf('%', start);
    if (nextEq >= 0 && nextEq < start) nextEq = query.indexOf('=', start);
    const eq = nextEq < 0 || nextEq > end ? end : nextEq;
    const mayHoldEmail = (nextAt >= 0 && nextAt < end) || (nextEscape >= 0 && nextEscape < end);
    const pii =
      (eq - start <= MAX_PII_NAME_CHARS && isPiiName(decodeComponent(query.slice(start, eq)))) ||
      (mayHoldEmail && containsEmail(decodeComponent(query.slice(eq + 1, end)), EMAIL_IN_URL));
    if (pii) {
      if (start > runStart) runs.push(query.slice(runStart, start - 1));
      runStart = end + 1;
    }
    start = end + 1;
  }
  if (runStart === 0) return null;
  if (runStart < query.length) runs.push(query.slice(runStart));
  return runs.join('&');
}

/** `?` and what follows, or nothing when the part is empty after scrubbing. */
function part(mark: string, original: string | null, scrubbed: string | null): string {
  if (scrubbed !== null) return scrubbed ? mark + scrubbed : '';
  return original === null ? '' : mark + original;
}

/**
 * The URL without PII-looking query parameters (and fragment parameters, which SPAs use the
 * same way) or credentials. Text that is not an absolute URL loses the emails in it. Only the
 * part before the query goes through the URL parser: the query and fragment, up to a megabyte
 * long, are read once, as they came.
 */
export function scrubUrl(raw: string): string {
  const hashAt = raw.indexOf('#');
  const end = hashAt < 0 ? raw.length : hashAt;
  const questionAt = raw.indexOf('?');
  const queryAt = questionAt >= 0 && questionAt < end ? questionAt : -1;
  const base = raw.slice(0, queryAt >= 0 ? queryAt : end);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return replaceEmails(raw, EMAIL_IN_URL, '');
  }
  let head = base;
  if (url.username || url.password) {
    url.username = '';
    url.password = '';
    head = url.href;
  }
  const query = queryAt >= 0 ? raw.slice(queryAt + 1, end) : null;
  const fragment = hashAt >= 0 ? raw.slice(hashAt + 1) : null;
  const keptQuery = query === null ? null : scrubPairs(query);
  const keptFragment = fragment?.includes('=') ? scrubPairs(fragment) : null;
  if (head === base && keptQuery === null && keptFragment === null) return raw;
  return head + part('?', query, keptQuery) + part('#', fragment, keptFragment);
}
