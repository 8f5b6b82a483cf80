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
/** Values that are emails, whatever the parameter is called. */
const EMAIL_RE = /[^\s@]+@[^\s@/?&=#]+\.[a-z]{2,}/i;

function isPiiParam(name: string, value: string): boolean {
  const key = name.toLowerCase().replace(/[-_\s]/g, '');
  return PII_PARAM_NAMES.has(key) || EMAIL_RE.test(value);
}

/**
 * The URL without PII-looking query parameters (and fragment parameters, which SPAs use the
 * same way). Text that is not an absolute URL is scrubbed as a query string alone.
 */
export function scrubUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return EMAIL_RE.test(raw) ? raw.replace(new RegExp(EMAIL_RE.source, 'gi'), '') : raw;
  }
  let changed = false;
  for (const [k, v] of [...url.searchParams]) {
    if (isPiiParam(k, v)) {
      url.searchParams.delete(k);
      changed = true;
    }
  }
  if (url.hash.includes('=')) {
    const frag = new URLSearchParams(url.hash.slice(1));
    for (const [k, v] of [...frag]) {
      if (isPiiParam(k, v)) {
        frag.delete(k);
        changed = true;
      }
    }
    if (changed) url.hash = frag.toString();
  }
  if (url.username || url.password) {
    url.username = '';
    url.password = '';
    changed = true;
  }
  return changed ? url.toString() : raw;
}
