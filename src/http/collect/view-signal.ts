import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { adsPermitted } from '../../domain/consent.js';
import { parseViewSignal, viewOf } from '../../domain/viewability.js';
import { errorStatus } from '../errors.js';
import { describedOnly } from '../openapi.js';
import { requestConsent } from '../request/consent.js';
import type { BrowserRequest } from '../request/identity.js';
import { param, type Query } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { IMPRESSION_ROUTE } from './impression-query.js';
import {
  headOnly,
  impressionPixel,
  type PixelAnswer,
  pixelProblem,
  readParams,
} from './pixel-hit.js';

const flag = (description: string) =>
  Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')], { description }));

/** `/v` as the API reference describes it: `/i`'s query and the signal's fields. */
const VIEW_QUERY = Type.Object({
  ...IMPRESSION_ROUTE.querystring.properties,
  served: flag(
    "1: record the served impression here, exactly as `/i` would (the tag's first signal)",
  ),
  measurable: flag('whether the tag can measure the ad (IntersectionObserver, a target)'),
  viewable: flag('1: the MRC threshold was met; 0: the page went away before it was'),
  ttv_ms: Type.Optional(Type.String({ description: 'ms from the tag start to viewable' })),
  max_share: Type.Optional(Type.String({ description: 'largest share of the ad in view, 0..1' })),
  video: flag('1: measured as video (2 continuous seconds)'),
});

const DESCRIPTION =
  "The viewability tag's signal (issue 24), one or two per impression. Never refused: bad " +
  'ids or fields come back in `X-Pixeltrail-Warnings` and are counted in ' +
  '`pixeltrail_invalid_hits_total{endpoint="v",reason}`. With `served=1` the impression is ' +
  "recorded by `/i`'s own path (touch, `ptid` cookie, counts). The signal merges into the " +
  "impression's viewability row whether or not its touch is stored yet.";

/** What one `/v` hit does; GET and POST answer it differently. */
export function viewSignalHit(s: Services): (q: Query, req: BrowserRequest) => PixelAnswer {
  const impression = impressionPixel(s);
  const hits = s.metrics.hits.labels({ endpoint: 'v' });
  const invalid = (reason: string) => s.metrics.invalidHits.inc({ endpoint: 'v', reason });
  return (q, req) => {
    hits.inc();
    const env = s.environment(param(q, 'env_id') ?? '');
    const problem = pixelProblem(env, q, 'imp_id');
    if (problem || !env) {
      invalid(problem ?? 'unknown_env');
      return { warnings: [problem ?? 'unknown_env'] };
    }
    // The served impression goes down /i's own path: the same touch, cookie and counts.
    const served = param(q, 'served') === '1' ? impression(q, req) : { warnings: [] };
    const answer = (reason: string): PixelAnswer => {
      invalid(reason);
      const warnings = served.warnings.includes(reason)
        ? served.warnings
        : [...served.warnings, reason];
      return { warnings, cookie: served.cookie };
    };
    const parsed = parseViewSignal((k) => param(q, k));
    if (!parsed.ok) return answer(parsed.reason);
    // As /i decides: a measurement of someone who said no is not kept either.
    if (!adsPermitted(requestConsent(req, env, undefined, q))) return answer('opted_out');
    const traffic = classifyTraffic(req);
    if (traffic !== 'human') return answer(traffic);
    // A macro names no impression: there is nothing to join the measurement to.
    const impId = readParams(q, ['imp_id']).get('imp_id');
    if (!impId) return answer('unexpanded_macro:imp_id');
    // pixelProblem has checked that dest_id names a destination of the environment.
    const ids = { env_id: env.id, imp_id: impId, dest_id: param(q, 'dest_id') ?? '' };
    if (!s.pipeline.recordView(viewOf(ids, parsed.signal, s.nowMs()))) return answer('dropped');
    return served;
  };
}

function answerWith(reply: FastifyReply, a: PixelAnswer): FastifyReply {
  if (a.cookie) reply.header('set-cookie', a.cookie);
  if (a.warnings.length > 0) reply.header('x-pixeltrail-warnings', a.warnings.join(', '));
  return reply;
}

/**
 * `GET /v` (an image, for browsers without sendBeacon: the GIF of `/i`) and `POST /v` (the
 * tag's sendBeacon, an empty body: 204). Both read the query only and answer at once; the
 * signal is committed with the next group of touches.
 */
export function viewSignalRoutes(app: FastifyInstance, s: Services): void {
  const signal = viewSignalHit(s);
  // Like every pixel, never an error page: a failure of ours is counted and logged.
  const hit = (q: Query, req: BrowserRequest & { log: FastifyBaseLogger }): PixelAnswer => {
    try {
      return signal(q, req);
    } catch (err) {
      req.log.error({ err }, 'view signal failed');
      s.metrics.invalidHits.inc({ endpoint: 'v', reason: 'error' });
      return { warnings: ['error'] };
    }
  };
  const schema = {
    summary: 'viewability signal (image): always the GIF',
    description: DESCRIPTION,
  };
  app.get(
    '/v',
    { schema: { ...schema, querystring: VIEW_QUERY }, ...describedOnly },
    async (req, reply) => {
      reply.headers(GIF_HEADERS);
      if (headOnly(s, 'v', req.method)) return reply.status(200).send(TRANSPARENT_GIF);
      return answerWith(reply, hit(req.query as Query, req))
        .status(200)
        .send(TRANSPARENT_GIF);
    },
  );
  app.register(async (beacon) => {
    // Whatever a beacon carries (the tag sends none), the query is the signal: any body type
    // is read as text and left unread, and a body refused before the route still gets 204.
    beacon.removeAllContentTypeParsers();
    beacon.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    beacon.setErrorHandler((err: unknown, req, reply) => {
      const status = errorStatus(err);
      if (status === 429) throw err;
      s.metrics.invalidHits.inc({ endpoint: 'v', reason: status < 500 ? 'bad_body' : 'error' });
      if (status >= 500) req.log.error({ err }, 'view signal failed');
      return reply.header('cache-control', 'no-store').status(204).send();
    });
    const post = {
      summary: "viewability signal (the tag's sendBeacon): always 204",
      description: DESCRIPTION,
    };
    beacon.post(
      '/v',
      { schema: { ...post, querystring: VIEW_QUERY }, ...describedOnly, bodyLimit: 1024 },
      async (req, reply) => {
        reply.header('cache-control', 'no-store');
        return answerWith(reply, hit(req.query as Query, req))
          .status(204)
          .send();
      },
    );
  });
}
