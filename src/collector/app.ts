import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { adminApi } from './admin-api.js';
import { sessionRoutes } from './admin-session.js';
import { beaconRoute } from './beacon-route.js';
import { demoRoutes } from './demo-routes.js';
import { eventsApi } from './events-api.js';
import { installErrorHandler } from './http-error.js';
import { loggerOptions } from './log-redaction.js';
import { pixelRoutes } from './pixel-routes.js';
import { installRateLimits } from './rate-limits.js';
import { installSecurityHeaders } from './security-headers.js';
import type { Services } from './services.js';
import { subjectsApi } from './subjects-api.js';
import { systemRoutes } from './system-routes.js';

/** Request bodies larger than this are refused with 413 (DESIGN §5: 1 MB). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Every route without a limit of its own (all but `/v1/events`) takes at most this. */
const DEFAULT_ROUTE_BODY_BYTES = 64 * 1024;

/** Builds the HTTP app over the services; no I/O happens until it listens. */
export function buildApp(s: Services): FastifyInstance {
  const app = Fastify({
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: s.config.trust_proxy,
    // Per-request logs would cost more than the pixel itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    logger: loggerOptions(s.config.log_level, s.logStream),
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  installErrorHandler(app);
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= DEFAULT_ROUTE_BODY_BYTES;
  });
  installSecurityHeaders(app);
  installRateLimits(app, s.config);
  // Routes load after the rate limiter, so its hook is on every one of them.
  app.register(async (routes) => {
    systemRoutes(routes, s);
    pixelRoutes(routes, s);
    beaconRoute(routes, s);
    eventsApi(routes, s);
    adminApi(routes, s);
    subjectsApi(routes, s);
    sessionRoutes(routes, s.config, s.nowMs);
    if (s.config.demo) demoRoutes(routes, s);
  });
  return app;
}
