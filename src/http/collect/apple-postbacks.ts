import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PostbackFramework } from '../../domain/apple-postback.js';
import { MAX_POSTBACK_BYTES, receivePostback } from '../../ingest/postback-receive.js';
import { errorStatus, HttpError, replyStatus } from '../errors.js';
import type { Services } from '../services.js';

/** Retry-After (seconds) when a postback could not be stored: the device sends it again. */
const RETRY_AFTER_STORE_S = 60;

/**
 * The well-known paths Apple's devices post to: an ad network's own, or the advertised
 * app's copy (its Info.plist names our domain, `NSAdvertisingAttributionReportEndpoint` /
 * `AttributionCopyEndpoint`, and the device appends the path).
 * https://developer.apple.com/documentation/storekit/configuring-an-advertised-app
 * https://developer.apple.com/documentation/adattributionkit/configuring-an-advertised-app
 */
export const POSTBACK_PATHS: Readonly<Record<PostbackFramework, string>> = {
  skadnetwork: '/.well-known/skadnetwork/report-attribution/',
  adattributionkit: '/.well-known/appattribution/report-attribution/',
};

/**
 * `POST` on both paths (issue 25): every postback is answered 200, junk included (Apple's
 * device retries a postback that gets anything else, up to nine times over nine days:
 * https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback),
 * and counted by result in `pixeltrail_apple_postbacks_total` (an unverified one beyond its
 * environment's hourly sample also in `…_not_kept_total`). The one exception is our own
 * failure to store it: 503, so that the device sends it again rather than it being lost.
 */
export function applePostbackRoutes(app: FastifyInstance, s: Services): void {
  // A scope of its own: any content type reaches the route as text, and a body refused
  // before it (too large, unreadable) is still answered 200 and counted.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: unknown, req, reply) => {
    const status = errorStatus(err);
    // The rate limiter's 429 keeps its Retry-After (the app's handler answers it).
    if (status === 429) throw err;
    const framework = frameworkOf(req.url);
    if (status >= 500) {
      req.log.error({ err }, 'postback could not be stored');
      s.metrics.postbacks.inc({ framework, result: 'store_failed' });
      const refused = new HttpError(
        503,
        'store_unavailable',
        'retry later',
        undefined,
        RETRY_AFTER_STORE_S,
      );
      return replyStatus(reply, refused).send({
        error: { code: refused.code, message: refused.message },
      });
    }
    s.metrics.hit(framework);
    s.metrics.postbacks.inc({ framework, result: status === 413 ? 'too_large' : 'malformed' });
    return ok(reply);
  });
  const deps = { store: s.store, config: () => s.config, nowMs: s.nowMs };
  for (const framework of ['skadnetwork', 'adattributionkit'] as const) {
    const path = POSTBACK_PATHS[framework];
    const handler = async (req: { body: unknown }, reply: FastifyReply) => {
      s.metrics.hit(framework);
      const body = typeof req.body === 'string' ? req.body : '';
      const { result, outcome } = await receivePostback(deps, framework, body);
      s.metrics.postbacks.inc({ framework, result });
      if (outcome.outcome === 'not_kept') s.metrics.postbacksNotKept.inc({ framework, result });
      return ok(reply);
    };
    const schema = {
      summary: `${framework === 'skadnetwork' ? 'SKAdNetwork' : 'AdAttributionKit'} postback (Apple's devices post here): always 200; verified, stored once, or kept apart`,
    };
    app.post(path, { bodyLimit: MAX_POSTBACK_BYTES, schema }, handler);
    // Forwarders (an ad network's copy) may drop the trailing slash.
    app.post(
      path.slice(0, -1),
      { bodyLimit: MAX_POSTBACK_BYTES, schema: { ...schema, hide: true } },
      handler,
    );
  }
}

function frameworkOf(url: string): PostbackFramework {
  return url.includes('/appattribution/') ? 'adattributionkit' : 'skadnetwork';
}

function ok(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').status(200).send();
}
