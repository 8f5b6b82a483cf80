import { createHash } from 'node:crypto';
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config-types.js';
import { ClientWindows } from './client-windows.js';
import { HttpError } from './http-error.js';
import { bearer } from './key-check.js';

/** Clients tracked at once by the in-memory limiter (LRU). */
const MAX_TRACKED_CLIENTS = 50_000;
/** The window every limit counts in. */
export const RATE_WINDOW_MS = 60_000;

/** Requests with a Bearer key count against the key; the rest against the client IP. */
function clientKey(req: FastifyRequest): string {
  const key = bearer(req.headers.authorization);
  // Only a digest of the key is held in memory, never the key itself.
  return key
    ? `k:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`
    : `ip:${req.ip}`;
}

/** The per-minute limit of a client key (`ip:…` or `k:…`); 0 means none. */
export function limitOf(config: AppConfig, key: string): number {
  return key.startsWith('k:') ? config.rate_limit.per_key : config.rate_limit.per_ip;
}

/** The limiter's windows, shared by the Fastify app and the pixel fast path. */
export function clientWindows(): ClientWindows {
  return new ClientWindows(MAX_TRACKED_CLIENTS);
}

/**
 * Per-IP and per-key request limits a minute (`rate_limit.per_ip`, `rate_limit.per_key`;
 * 0 turns one off). Over the limit: 429 with Retry-After (pixels still answer their GIF).
 */
export function installRateLimits(
  app: FastifyInstance,
  config: AppConfig,
  windows: ClientWindows,
): void {
  // The plugin builds its store with `new`; a constructor returning an object yields it.
  const store = function SharedWindows() {
    return windows;
  } as unknown as FastifyRateLimitStoreCtor;
  app.register(rateLimit, {
    global: true,
    timeWindow: RATE_WINDOW_MS,
    store,
    keyGenerator: clientKey,
    max: (_req, key) => limitOf(config, key),
    allowList: (_req, key) => limitOf(config, key) === 0,
    errorResponseBuilder: (_req, ctx) =>
      new HttpError(429, 'rate_limited', `too many requests; retry in ${ctx.after}`),
  });
}
