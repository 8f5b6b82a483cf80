import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time.js';

/** Query parameters of a click link, without its signature. */
export type ClickParams = Record<string, string>;

/**
 * The signed text of a click link: every parameter except `sig`, sorted by name,
 * form-encoded. Sorting makes the signature independent of parameter order.
 */
export function canonicalClickQuery(params: ClickParams): string {
  return Object.keys(params)
    .filter((k) => k !== 'sig')
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .join('&');
}

/** Hex HMAC-SHA256 of the canonical query. */
export function signClick(secret: string, params: ClickParams): string {
  return createHmac('sha256', secret).update(canonicalClickQuery(params)).digest('hex');
}

/** True when `sig` is the HMAC of the other parameters; constant-time. */
export function verifyClick(secret: string, params: ClickParams): boolean {
  const sig = params.sig;
  if (!sig || !/^[0-9a-f]{64}$/i.test(sig)) return false;
  return constantTimeEqual(sig.toLowerCase(), signClick(secret, params));
}

/** True when `host` is listed, exactly or under a `*.example.com` entry. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((entry) => {
    const e = entry.toLowerCase();
    return e.startsWith('*.') ? h.endsWith(e.slice(1)) : h === e;
  });
}

export type RedirectDecision = { ok: true; location: string } | { ok: false; reason: string };

/**
 * Decides where `/c` may send the browser. Only absolute http(s) URLs without credentials,
 * and only when the link is signed or the host is allowed: never an open redirect.
 */
export function decideRedirect(
  rawUrl: string | undefined,
  signed: boolean,
  allowedHosts: readonly string[],
): RedirectDecision {
  if (!rawUrl) return { ok: false, reason: 'missing_url' };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: 'bad_url' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'bad_url' };
  if (url.username || url.password) return { ok: false, reason: 'bad_url' };
  if (!signed && !hostAllowed(url.hostname, allowedHosts))
    return { ok: false, reason: 'host_not_allowed' };
  return { ok: true, location: url.href };
}

/** The landing-URL parameter `/c` adds the click id under unless configured otherwise. */
export const DEFAULT_CLICK_ID_PARAM = 'pt_click_id';

/** The name of a `k=v` query part, decoded as a form would (`+` is a space); raw when broken. */
function partName(part: string): string {
  const eq = part.indexOf('=');
  const raw = (eq < 0 ? part : part.slice(0, eq)).replaceAll('+', ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * `location` with `name=clickId` appended to its query, so the landing page (and the tag on
 * it) learns the click without a third-party cookie. Everything else is kept byte for byte,
 * the fragment included; an earlier `name` parameter (a template that already carried one) is
 * replaced, so the page sees exactly one, this click's.
 */
export function withClickId(location: string, name: string, clickId: string): string {
  const url = new URL(location);
  const parts = url.search ? url.search.slice(1).split('&') : [];
  const kept = parts.filter((part) => partName(part) !== name);
  kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(clickId)}`);
  url.search = kept.join('&');
  return url.href;
}

/**
 * Whether our tag can run on the landing page, judged by the environment's `allowed_origins`
 * (the sites whose tag beacons it accepts, `*` for any): only there does an appended
 * `pt_click_id` reach anything. Elsewhere the landing URL is left exactly as the link named
 * it — some sites refuse unknown query parameters (Google Ads says the same of its auto-tagging:
 * https://support.google.com/google-ads/answer/3095550), and DESIGN §4 promises a `302` to `url`.
 */
export function tagRunsOn(allowedOrigins: readonly string[], location: string): boolean {
  if (allowedOrigins.includes('*')) return true;
  let host: string;
  try {
    host = new URL(location).host.toLowerCase();
  } catch {
    return false;
  }
  return allowedOrigins.some((o) => {
    try {
      return new URL(o).host.toLowerCase() === host;
    } catch {
      return false;
    }
  });
}
