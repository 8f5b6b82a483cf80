import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../domain/config-types.js';
import { HttpError } from '../errors.js';
import { credentialOf, secretDigest } from '../request/key-check.js';
import { AuthFailures } from './auth-failures.js';
import { ClientWindows, type WindowCount } from './client-windows.js';

/** Clients tracked at once by the in-memory limiter (LRU). */
const MAX_TRACKED_CLIENTS = 50_000;
/** The window every limit counts in. */
export const RATE_WINDOW_MS = 60_000;

/**
 * Whether a presented credential, given as its SHA-256 (secretDigest), is a valid admin
 * token or write key (constant time).
 */
export type CredentialCheck = (digest: Buffer) => boolean;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The SHA-256 of the credential the Authorization header presents (credentialOf), taken
     * by the rate limiter on every request: the route's own key check reuses it.
     */
    credentialDigest: Buffer | null;
  }
}

/**
 * A request whose credential verifies counts against that key; every other request, one
 * with a made-up key included, against the client IP: inventing keys buys no fresh bucket.
 */
function clientKey(verifies: CredentialCheck) {
  return (req: FastifyRequest): string => {
    const key = credentialOf(req.headers.authorization);
    if (!key) return `ip:${req.ip}`;
    // Hashed once, to check it and to name its bucket: only a digest of the key is held in
    // memory, never the key itself.
    const digest = secretDigest(key);
    req.credentialDigest = digest;
    return verifies(digest) ? keyBucket(digest) : `ip:${req.ip}`;
  };
}

/** The limiter's key of a verified credential, from its digest (secretDigest). */
export function keyBucket(digest: Buffer): string {
  return `k:${digest.toString('base64url').slice(0, 22)}`;
}

/**
 * The headers @fastify/rate-limit sets on an answer within the limit, for the fast paths,
 * which answer without it: `w` is the window just counted in.
 */
export function limitHeaders(max: number, w: WindowCount): string[] {
  return [
    'x-ratelimit-limit',
    String(max),
    'x-ratelimit-remaining',
    String(max - w.current),
    'x-ratelimit-reset',
    String(Math.ceil(w.ttl / 1000)),
  ];
}

/** The per-minute limit of a client key (`ip:…` or `k:…`); 0 means none. */
export function limitOf(config: AppConfig, key: string): number {
  return key.startsWith('k:') ? config.rate_limit.per_key : config.rate_limit.per_ip;
}

/** The limiter's windows, shared by the Fastify app and the pixel fast path. */
export function clientWindows(): ClientWindows {
  return new ClientWindows(MAX_TRACKED_CLIENTS);
}

/** Failed authentications per IP, shared by the Fastify app and the fast path. */
export function authFailures(config: AppConfig, nowMs: () => number): AuthFailures {
  return new AuthFailures(config.rate_limit.auth_failures, nowMs);
}

/** Whether a request presents a credential: an Authorization header, or the dashboard login. */
function presentsCredential(req: FastifyRequest): boolean {
  return (
    req.headers.authorization !== undefined ||
    (req.method === 'POST' && req.routeOptions.url === '/api/session')
  );
}

/**
 * Per-IP and per-key request limits a minute (`rate_limit.per_ip`, `rate_limit.per_key`;
 * 0 turns one off). Over the limit: 429 with Retry-After (pixels still answer their GIF).
 * Every 401 counts as a failed authentication of the client IP; past
 * `rate_limit.auth_failures` a minute, requests presenting a credential from that IP get 429
 * with Retry-After, unchecked, for a lockout that doubles while the failures go on
 * (auth-failures.ts).
 */
export function installRateLimits(
  app: FastifyInstance,
  config: AppConfig,
  windows: ClientWindows,
  deps: { verifies: CredentialCheck; failures: AuthFailures },
): void {
  const { failures } = deps;
  app.decorateRequest('credentialDigest', null);
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done) => {
    const lockedMs = presentsCredential(req) ? failures.lockedForMs(req.ip) : 0;
    if (lockedMs === 0) {
      done();
      return;
    }
    const retryS = Math.ceil(lockedMs / 1000);
    reply.header('retry-after', String(retryS));
    done(
      new HttpError(
        429,
        'auth_locked',
        `too many failed authentications from this address; retry in ${retryS} s`,
      ),
    );
  });
  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
    if (reply.statusCode === 401) failures.fail(req.ip);
    done();
  });
  // The plugin builds its store with `new`; a constructor returning an object yields it.
  const store = function SharedWindows() {
    return windows;
  } as unknown as FastifyRateLimitStoreCtor;
  app.register(rateLimit, {
    global: true,
    timeWindow: RATE_WINDOW_MS,
    store,
    keyGenerator: clientKey(deps.verifies),
    max: (_req, key) => limitOf(config, key),
    allowList: (_req, key) => limitOf(config, key) === 0,
    errorResponseBuilder: (_req, ctx) =>
      new HttpError(429, 'rate_limited', `too many requests; retry in ${ctx.after}`),
  });
}
