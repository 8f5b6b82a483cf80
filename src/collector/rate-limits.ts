import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config-types.js';
import { HttpError } from './http-error.js';
import { bearer } from './key-check.js';

/** Clients tracked at once by the in-memory limiter (LRU). */
const MAX_TRACKED_CLIENTS = 50_000;
const WINDOW_MS = 60_000;

/** Requests with a Bearer key count against the key; the rest against the client IP. */
function clientKey(req: FastifyRequest): string {
  const key = bearer(req.headers.authorization);
  // Only a digest of the key is held in memory, never the key itself.
  return key
    ? `k:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`
    : `ip:${req.ip}`;
}

/**
 * Per-IP and per-key request limits a minute (`rate_limit.per_ip`, `rate_limit.per_key`;
 * 0 turns one off). Over the limit: 429 with Retry-After (pixels still answer their GIF).
 */
export function installRateLimits(app: FastifyInstance, config: AppConfig): void {
  const limitOf = (key: string) =>
    key.startsWith('k:') ? config.rate_limit.per_key : config.rate_limit.per_ip;
  app.register(rateLimit, {
    global: true,
    timeWindow: WINDOW_MS,
    cache: MAX_TRACKED_CLIENTS,
    keyGenerator: clientKey,
    max: (_req, key) => limitOf(key),
    allowList: (_req, key) => limitOf(key) === 0,
    errorResponseBuilder: (_req, ctx) =>
      new HttpError(429, 'rate_limited', `too many requests; retry in ${ctx.after}`),
  });
}
