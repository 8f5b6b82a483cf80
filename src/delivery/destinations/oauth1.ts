// OAuth 1.0a request signing, HMAC-SHA1, as RFC 5849 §3 defines it
// (https://www.rfc-editor.org/rfc/rfc5849#section-3) and X applies it to its APIs
// (https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature and
// .../authorizing-a-request). A JSON body is not part of the signature (§3.4.1.3.1: only an
// `application/x-www-form-urlencoded` body is), so callers pass form parameters only when the
// body is a form.
import { createHmac, randomBytes } from 'node:crypto';

/** The four secrets of a user-context OAuth 1.0a request. */
export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

/** What varies per request: RFC 5849 §3.3 wants a nonce unique for its timestamp. */
export interface OAuth1Stamp {
  nonce: string;
  /** Unix seconds. */
  timestamp: number;
}

/** One request to sign: the URL with its query, and form-encoded body parameters if any. */
export interface OAuth1Request {
  method: string;
  url: string;
  formParams?: ReadonlyArray<readonly [string, string]>;
}

/** RFC 5849 §3.6: RFC 3986 unreserved characters stay, every other byte is %XX (upper case). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * §3.4.1.2: scheme and host lower-cased, the default port dropped (WHATWG URL already leaves
 * `port` empty for 80 on http and 443 on https), no query or fragment.
 */
function baseUri(url: URL): string {
  const port = url.port ? `:${url.port}` : '';
  return `${url.protocol}//${url.hostname}${port}${url.pathname}`;
}

/**
 * The signature base string of §3.4.1: method, base URI and the normalized parameters (query,
 * form body and `oauth_*`, each name and value encoded, sorted by name then value).
 */
export function signatureBaseString(
  req: OAuth1Request,
  oauthParams: ReadonlyArray<readonly [string, string]>,
): string {
  const url = new URL(req.url);
  const params = [...url.searchParams, ...(req.formParams ?? []), ...oauthParams].map(
    ([k, v]) => [percentEncode(k), percentEncode(v)] as const,
  );
  params.sort(([ak, av], [bk, bv]) => (ak === bk ? compare(av, bv) : compare(ak, bk)));
  const normalized = params.map(([k, v]) => `${k}=${v}`).join('&');
  return [req.method.toUpperCase(), percentEncode(baseUri(url)), percentEncode(normalized)].join(
    '&',
  );
}

/** Byte order, as §3.4.1.3.2 asks (the encoded strings are ASCII). */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** §3.4.2: HMAC-SHA1 keyed by the encoded consumer secret and token secret, base64. */
export function hmacSha1Signature(
  baseString: string,
  consumerSecret: string,
  tokenSecret: string,
): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac('sha1', key).update(baseString).digest('base64');
}

/** A fresh stamp: 128 random bits as hex, and the time now. */
export function newStamp(nowMs: number): OAuth1Stamp {
  return { nonce: randomBytes(16).toString('hex'), timestamp: Math.floor(nowMs / 1000) };
}

/** The `Authorization: OAuth …` header value of §3.5.1 for this request. */
export function oauth1Header(
  req: OAuth1Request,
  creds: OAuth1Credentials,
  stamp: OAuth1Stamp,
): string {
  const oauth: Array<[string, string]> = [
    ['oauth_consumer_key', creds.consumerKey],
    ['oauth_nonce', stamp.nonce],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(stamp.timestamp)],
    ['oauth_token', creds.token],
    ['oauth_version', '1.0'],
  ];
  const base = signatureBaseString(req, oauth);
  oauth.push(['oauth_signature', hmacSha1Signature(base, creds.consumerSecret, creds.tokenSecret)]);
  oauth.sort(([a], [b]) => compare(a, b));
  return `OAuth ${oauth.map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`).join(', ')}`;
}
