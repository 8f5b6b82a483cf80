import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { adminApi } from './admin-api.js';
import { sessionRoutes } from './admin-auth.js';
import { beaconRoute } from './beacon-route.js';
import { dashboardApi } from './dashboard-api.js';
import { debuggerApi } from './debugger-api.js';
import { demoRoutes } from './demo-routes.js';
import { eventsApi } from './events-api.js';
import { healthApi } from './health-api.js';
import { installErrorHandler } from './http-error.js';
import { pixelRoutes } from './pixel-routes.js';
import { reportsApi } from './reports-api.js';
import { segmentApi } from './segment-api.js';
import type { Services } from './services.js';
import { snowplowRoutes } from './snowplow-routes.js';
import { systemRoutes } from './system-routes.js';
import { triggerRoutes } from './trigger-routes.js';
import { rewriteUrl } from './url-rewrite.js';

/** Request bodies larger than this are refused with 413 (DESIGN §5: 1 MB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Builds the HTTP app over the services; no I/O happens until it listens. */
export function buildApp(s: Services): FastifyInstance {
  const app = Fastify({
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: s.config.trust_proxy,
    rewriteUrl: (req) => rewriteUrl(req.url ?? '/', s.config.path_prefix),
    // Per-request logs would cost more than the pixel itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    logger: {
      level: s.config.log_level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
        ],
        censor: '****',
      },
    },
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  installErrorHandler(app);
  systemRoutes(app, s);
  pixelRoutes(app, s);
  beaconRoute(app, s);
  eventsApi(app, s);
  segmentApi(app, s);
  snowplowRoutes(app, s);
  triggerRoutes(app, s);
  adminApi(app, s);
  sessionRoutes(app, s);
  reportsApi(app, s);
  debuggerApi(app, s);
  dashboardApi(app, s);
  healthApi(app, s);
  if (s.config.demo) demoRoutes(app, s);
  return app;
}
