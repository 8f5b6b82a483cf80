import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../config/config-types.js';
import type { UserKeys } from '../domain/event.js';

/** Name of the first-party-or-third-party browser id cookie (DESIGN §5). */
export const COOKIE_NAME = 'ptid';
const COOKIE_MAX_AGE_S = 365 * 86_400;
const COOKIE_RE = /(?:^|;\s*)ptid=([A-Za-z0-9_-]{8,64})(?:;|$)/;
const SAFE_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

/** The `ptid` cookie on the request, when present and well-formed. */
export function readBrowserId(req: FastifyRequest): string | undefined {
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
  // CHIPS: a partitioned cookie keeps working where third-party cookies are blocked, one jar
  // per top-level site; browsers accept `Partitioned` only together with `Secure`.
  const attrs = c.https
    ? `SameSite=None; Secure${c.partitioned ? '; Partitioned' : ''}`
    : 'SameSite=Lax';
  return `${COOKIE_NAME}=${id}; Max-Age=${maxAgeS}; Path=/; HttpOnly; ${attrs}`;
}

/**
 * Sets `ptid`. HTTPS is the connection's own TLS or, with `trust_proxy`, the proxy's
 * `X-Forwarded-Proto` (Fastify's `req.protocol`); an untrusted client cannot claim it.
 */
export function setBrowserId(
  req: FastifyRequest,
  reply: FastifyReply,
  id: string,
  env: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): void {
  const https = req.protocol === 'https';
  reply.header(
    'set-cookie',
    browserIdCookie(id, { https, partitioned: env.cookie_partitioned === true }),
  );
}

/**
 * Expires `ptid` (consent withdrawn): the tag cannot, the cookie being HttpOnly. Same
 * attributes as when it was set, or the browser keeps the partitioned or secure one.
 */
export function clearBrowserId(
  req: FastifyRequest,
  reply: FastifyReply,
  env: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): void {
  const https = req.protocol === 'https';
  reply.header(
    'set-cookie',
    browserIdCookie('', { https, partitioned: env.cookie_partitioned === true }, 0),
  );
}

/** Identity seen on a browser request: IP, user agent, cookie. */
export function requestUser(req: FastifyRequest): UserKeys {
  const user: UserKeys = { ip: req.ip };
  const ua = req.headers['user-agent'];
  if (ua) user.user_agent = ua;
  const cookie = readBrowserId(req);
  if (cookie) user.cookie_id = cookie;
  return user;
}

/** Sec-GPC (and DNT where the environment honours it): the browser opts out of ad use. */
export function browserOptedOut(req: FastifyRequest, honorDnt: boolean): boolean {
  return req.headers['sec-gpc'] === '1' || (honorDnt && req.headers.dnt === '1');
}
