import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { installAdminAuth } from './admin/auth.js';
import { channelsApi } from './admin/channels.js';
import { costsApi } from './admin/costs.js';
import { dashboardApi } from './admin/dashboard.js';
import { debuggerApi } from './admin/debugger.js';
import { destinationsApi } from './admin/destinations.js';
import { healthApi } from './admin/health.js';
import { importsApi } from './admin/imports.js';
import { adminApi } from './admin/lists.js';
import { postbacksApi } from './admin/postbacks.js';
import { reportsApi } from './admin/reports.js';
import { adminSecrets, sessionRoutes } from './admin/session.js';
import { subjectsApi } from './admin/subjects.js';
import { touchesApi } from './admin/touches.js';
import { triggerRoutes } from './admin/triggers.js';
import { viewabilityReportApi } from './admin/viewability-report.js';
import { clientErrorHandler } from './client-error.js';
import { applePostbackRoutes } from './collect/apple-postbacks.js';
import { beaconRoute } from './collect/beacon.js';
import { demoRoutes } from './collect/demo.js';
import { eventsApi } from './collect/events-api.js';
import { pixelFastPath } from './collect/fast-path.js';
import { pixelRoutes } from './collect/pixels.js';
import { segmentApi } from './collect/segment.js';
import { snowplowRoutes } from './collect/snowplow.js';
import { viewSignalRoutes } from './collect/view-signal.js';
import { viewTagRoutes } from './collect/view-tag.js';
import { HttpError, installErrorHandler } from './errors.js';
import { openApiOptions } from './openapi.js';
import { lazyChildLogger } from './plugins/lazy-request-logger.js';
import { loggerOptions } from './plugins/log-redaction.js';
import { authFailures, clientWindows, installRateLimits } from './plugins/rate-limits.js';
import { installSecurityHeaders, setSecurityHeaders } from './plugins/security-headers.js';
import { trustFunction } from './plugins/trust-proxy.js';
import { rewriteUrl } from './plugins/url-rewrite.js';
import type { Services } from './services.js';
import { systemRoutes } from './system.js';
import { schemaErrorFormatter } from './validation-errors.js';

/** Request bodies larger than this are refused with 413 (DESIGN §5: 1 MB). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Every other route without a limit of its own takes at most this. */
const DEFAULT_ROUTE_BODY_BYTES = 64 * 1024;

/** The fields of a validated query or path whose number came out infinite. */
function nonFinite(values: unknown): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  if (typeof values !== 'object' || values === null) return errors;
  for (const k in values) {
    const v = (values as Record<string, unknown>)[k];
    if (typeof v === 'number' && !Number.isFinite(v))
      errors.push({ field: k, message: 'must be a finite number' });
  }
  return errors;
}

/**
 * Builds the HTTP app over the services; no I/O happens until it listens. `fastPaths:
 * false` leaves `/i` and `POST /v1/events` to Fastify (tests compare the two).
 */
export function buildApp(s: Services, opts: { fastPaths?: boolean } = {}): FastifyInstance {
  const windows = clientWindows();
  const failures = authFailures(s.config, s.nowMs);
  let closing = false;
  const fastPath = pixelFastPath({
    services: s,
    windows,
    failures,
    log: () => app.log,
    closing: () => closing,
    enabled: opts.fastPaths !== false,
  });
  const app: FastifyInstance = Fastify({
    // `GET /i` is answered in front of Fastify (same answer, a fraction of the cost), on a
    // server that reads request heads up to MAX_REQUEST_HEAD_BYTES.
    serverFactory: fastPath,
    clientErrorHandler: clientErrorHandler(s),
    bodyLimit: MAX_BODY_BYTES,
    // A function: Fastify 5 reads a hop count as trusting no hop (trust-proxy.ts).
    trustProxy: trustFunction(s.config.trust_proxy) ?? false,
    rewriteUrl: (req) => rewriteUrl(req.url ?? '/', s.config.path_prefix),
    // Per-request logs would cost more than the pixel itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    logger: loggerOptions(s.config.log_level, s.logStream),
    childLoggerFactory: lazyChildLogger,
    // A `__proto__` or `constructor.prototype` key is dropped, not the whole body: refusing
    // it refused every event of the batch without naming a field. Nothing reads them.
    // A path the router cannot decode (`/api/stats%ZZ`): our JSON error and security headers,
    // where Fastify's default answer has neither.
    frameworkErrors: (err, req, reply: FastifyReply) => {
      setSecurityHeaders(req, reply);
      reply.code(400).send({ error: { code: 'bad_url', message: err.message } });
    },
    // "group_by must be one of: day, …" once, where Ajv said "must be equal to constant" per value.
    schemaErrorFormatter,
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    ajv: {
      customOptions: {
        // Fastify's default ('array') wraps a scalar where an array is due: `{"events":5}`
        // became one bad event instead of a 400 naming `events`.
        coerceTypes: true,
        // A JSON 1e309 is Infinity, which is no number a report or a store can use.
        strictNumbers: true,
      },
    },
  });
  // Ajv's coercion of a query or path parameter such as `1e309` gives Infinity and skips the
  // schema's bounds (strictNumbers does not see it): refused here by name.
  app.addHook('preHandler', (req, _reply, done) => {
    const errors = [...nonFinite(req.query), ...nonFinite(req.params)];
    if (errors.length > 0)
      done(new HttpError(400, 'invalid_request', 'numbers must be finite', errors));
    else done();
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  installErrorHandler(app);
  app.addHook('onRoute', (route) => {
    // Server-to-server ingestion (ours, Segment's 500 KB batches, Snowplow's tp2) gets the
    // full limit; the routes check their own protocol's limits inside it.
    const ingest = route.url.startsWith('/v1/') || route.url.startsWith('/com.snowplowanalytics');
    route.bodyLimit ??= ingest ? MAX_BODY_BYTES : DEFAULT_ROUTE_BODY_BYTES;
  });
  installSecurityHeaders(app);
  installRateLimits(app, s.config, windows, {
    // Admin tokens and write keys verify; anything else is an invented key.
    verifies: (digest) =>
      adminSecrets(s.config).match(digest) !== undefined ||
      s.environmentByWriteKey(digest) !== undefined,
    failures,
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Before the routes, so that it sees each of them (GET /openapi.json, system.ts).
  app.register(swagger, openApiOptions());
  // Routes load after the rate limiter, so its hook is on every one of them.
  app.register(async (routes) => {
    installAdminAuth(routes, s);
    systemRoutes(routes, s);
    pixelRoutes(routes, s);
    viewSignalRoutes(routes, s);
    viewTagRoutes(routes, s);
    routes.register(async (beacon) => beaconRoute(beacon, s));
    routes.register(async (postbacks) => applePostbackRoutes(postbacks, s));
    eventsApi(routes, s);
    segmentApi(routes, s);
    snowplowRoutes(routes, s);
    triggerRoutes(routes, s);
    adminApi(routes, s);
    subjectsApi(routes, s);
    sessionRoutes(routes, { config: s.config, nowMs: s.nowMs, store: s.store });
    reportsApi(routes, s);
    channelsApi(routes, s);
    costsApi(routes, s);
    debuggerApi(routes, s);
    touchesApi(routes, s);
    viewabilityReportApi(routes, s);
    dashboardApi(routes, s);
    destinationsApi(routes, s);
    healthApi(routes, s);
    postbacksApi(routes, s);
    importsApi(routes, s);
    if (s.config.demo) demoRoutes(routes, s);
  });
  return app;
}
