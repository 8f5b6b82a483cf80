import type { IncomingHttpHeaders } from 'node:http';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import type { UserKeys } from '../../domain/event.js';
import { requestIp } from '../../domain/ip-address.js';

/**
 * What the collection code reads of a browser's request. A Fastify request is one; so is the
 * view the pixel fast path (pixel-fast-path.ts) builds from a bare node:http request.
 */
export interface BrowserRequest {
  headers: IncomingHttpHeaders;
  /** The client address (after `trust_proxy`). */
  ip: string;
  /** The Host the browser asked for, possibly with a port. */
  hostname: string;
  protocol: string;
}

/**
 * Where an answer's headers go: a FastifyReply is one; so is the header list the beacon's
 * fast path (beacon-fast-path.ts) writes its answer from.
 */
export interface HeaderSink {
  header(name: string, value: string): unknown;
}

/** Name of the first-party-or-third-party browser id cookie (DESIGN §5). */
export const COOKIE_NAME = 'ptid';
const COOKIE_MAX_AGE_S = 365 * 86_400;
const COOKIE_RE = /(?:^|;\s*)ptid=([A-Za-z0-9_-]{8,64})(?:;|$)/;
const SAFE_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

/** The `ptid` cookie on the request, when present and well-formed. */
export function readBrowserId(req: Pick<BrowserRequest, 'headers'>): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return COOKIE_RE.exec(header)?.[1];
}

/** True when `id` may be used as a cookie value. */
export function isSafeBrowserId(id: string | undefined): id is string {
  return !!id && SAFE_ID_RE.test(id);
}

/** How the `ptid` cookie is sent: over HTTPS or not, and with CHIPS partitioning if asked. */
export interface CookieContext {
  https: boolean;
  partitioned: boolean;
}

/**
 * The `Set-Cookie` value for `ptid`. Pixels load in third-party context (an ad on another
 * site), where browsers only send `SameSite=None; Secure` cookies, so HTTPS gets those. Plain
 * HTTP, localhost included, gets `SameSite=Lax` without `Secure`: a Secure cookie from
 * http://localhost is dropped by Safari, and `SameSite=None` without `Secure` by every browser,
 * while Lax works first-party everywhere. HttpOnly: the tag keeps its own id in `_ptid`.
 */
export function browserIdCookie(id: string, c: CookieContext, maxAgeS = COOKIE_MAX_AGE_S): string {
  if (maxAgeS === COOKIE_MAX_AGE_S) return `${COOKIE_NAME}=${id}${NEW_COOKIE_TAILS[cookieKind(c)]}`;
  return `${COOKIE_NAME}=${id}${cookieTail(c, maxAgeS)}`;
}

/** What follows the value: its lifetime and the attributes browserIdCookie explains. */
function cookieTail(c: CookieContext, maxAgeS: number): string {
  // CHIPS: a partitioned cookie keeps working where third-party cookies are blocked, one jar
  // per top-level site; browsers accept `Partitioned` only together with `Secure`.
  const attrs = c.https
    ? `SameSite=None; Secure${c.partitioned ? '; Partitioned' : ''}`
    : 'SameSite=Lax';
  return `; Max-Age=${maxAgeS}; Path=/; HttpOnly; ${attrs}`;
}

function cookieKind(c: CookieContext): number {
  return (c.https ? 2 : 0) + (c.partitioned ? 1 : 0);
}

/** The tails of a new cookie, by cookieKind: built once, not on every pixel hit that sets one. */
const NEW_COOKIE_TAILS = [0, 1, 2, 3].map((k) =>
  cookieTail({ https: k >= 2, partitioned: k % 2 === 1 }, COOKIE_MAX_AGE_S),
);

/**
 * The `ptid` cookie for this request. HTTPS is the connection's own TLS or, with
 * `trust_proxy`, the proxy's `X-Forwarded-Proto` (`protocol`, as Fastify and the pixel fast
 * path read it); an untrusted client cannot claim it.
 */
export function requestCookie(
  req: Pick<BrowserRequest, 'protocol'>,
  id: string,
  env: Pick<EnvironmentConfig, 'cookie_partitioned'>,
  maxAgeS = COOKIE_MAX_AGE_S,
): string {
  return browserIdCookie(
    id,
    { https: req.protocol === 'https', partitioned: env.cookie_partitioned === true },
    maxAgeS,
  );
}

/** Sets `ptid` on the reply (see requestCookie). */
export function setBrowserId(
  req: Pick<BrowserRequest, 'protocol'>,
  reply: HeaderSink,
  id: string,
  env: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): void {
  reply.header('set-cookie', requestCookie(req, id, env));
}

/**
 * Expires `ptid` (consent withdrawn): the tag cannot, the cookie being HttpOnly. Same
 * attributes as when it was set, or the browser keeps the partitioned or secure one.
 */
export function clearBrowserId(
  req: Pick<BrowserRequest, 'protocol'>,
  reply: HeaderSink,
  env: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): void {
  reply.header('set-cookie', requestCookie(req, '', env, 0));
}

/** Identity seen on a browser request: IP (in its one spelling), user agent, cookie. */
export function requestUser(req: Pick<BrowserRequest, 'headers' | 'ip'>): UserKeys {
  const ip = requestIp(req.ip);
  const user: UserKeys = ip ? { ip } : {};
  const ua = req.headers['user-agent'];
  if (ua) user.user_agent = ua;
  const cookie = readBrowserId(req);
  if (cookie) user.cookie_id = cookie;
  return user;
}
