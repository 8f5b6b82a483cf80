import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { EnvironmentConfig } from '../config/config-types.js';
import type { UserKeys } from '../domain/event.js';

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

/**
 * The `Set-Cookie` value giving the browser `ptid`. Pixels load in third-party context (an
 * ad on another site), where browsers only send `SameSite=None; Secure` cookies; Secure needs
 * https, or loopback, which Chromium treats as secure. Plain-http hosts get a Lax cookie,
 * which works first-party.
 */
export function browserIdCookie(
  req: Pick<BrowserRequest, 'hostname' | 'protocol'>,
  id: string,
  env?: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): string {
  const host = req.hostname.replace(/:\d+$/, '');
  const secure =
    req.protocol === 'https' || host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  // CHIPS: a partitioned cookie keeps working where third-party cookies are blocked, one
  // jar per top-level site.
  const partitioned = secure && env?.cookie_partitioned ? '; Partitioned' : '';
  const attrs = secure ? `SameSite=None; Secure${partitioned}` : 'SameSite=Lax';
  return `${COOKIE_NAME}=${id}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/; HttpOnly; ${attrs}`;
}

/** Sets `ptid` on the reply (see browserIdCookie). */
export function setBrowserId(
  req: Pick<BrowserRequest, 'hostname' | 'protocol'>,
  reply: FastifyReply,
  id: string,
  env?: Pick<EnvironmentConfig, 'cookie_partitioned'>,
): void {
  reply.header('set-cookie', browserIdCookie(req, id, env));
}

/** Identity seen on a browser request: IP, user agent, cookie. */
export function requestUser(req: Pick<BrowserRequest, 'headers' | 'ip'>): UserKeys {
  const user: UserKeys = { ip: req.ip };
  const ua = req.headers['user-agent'];
  if (ua) user.user_agent = ua;
  const cookie = readBrowserId(req);
  if (cookie) user.cookie_id = cookie;
  return user;
}

/** Sec-GPC (and DNT where the environment honours it): the browser opts out of ad use. */
export function browserOptedOut(req: Pick<BrowserRequest, 'headers'>, honorDnt: boolean): boolean {
  return req.headers['sec-gpc'] === '1' || (honorDnt && req.headers.dnt === '1');
}
