import type { FastifyInstance, FastifyReply } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { adsPermitted } from '../../domain/consent.js';
import { ingest, type RequestFacts } from '../../ingest/ingest.js';
import { describedOnly } from '../openapi.js';
import { requestConsent } from '../request/consent.js';
import { requestUser } from '../request/identity.js';
import { param, type Query } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { clickRoute } from './click.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { IMPRESSION_ROUTE } from './impression-query.js';
import { destinationHitCounter } from './macro-counts.js';
import {
  browserId,
  headOnly,
  IMPRESSION_PARAMS,
  impressionPixel,
  macroWarnings,
  pixelProblem,
  readParams,
} from './pixel-hit.js';

function sendGif(reply: FastifyReply, warnings: string[], cookie?: string): FastifyReply {
  reply.headers(GIF_HEADERS);
  if (cookie) reply.header('set-cookie', cookie);
  // A pixel can only answer with an image; its problems travel in a header instead.
  if (warnings.length > 0) reply.header('x-pixeltrail-warnings', warnings.join(', '));
  return reply.status(200).send(TRANSPARENT_GIF);
}

/**
 * What `/p` keeps of the ad that led to it besides the event (as `/i` keeps them on its
 * touch): stored as event properties under the same names. UTM names as Google Analytics
 * reads them (https://support.google.com/analytics/answer/10917952).
 */
const P_CAMPAIGN_PARAMS = [
  'campaign_id',
  'creative_id',
  'placement_id',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'utm_id',
] as const;
/** `/p` parameters an ad server or MMP may fill in with macros: checked, dropped when one. */
const P_PARAMS = ['ev', 'eid', 'user_id', 'click_id', 'imp_id', ...P_CAMPAIGN_PARAMS];

/** `/i` impression pixel, `/p` event pixel and `/c` click redirect (DESIGN §5). */
export function pixelRoutes(app: FastifyInstance, s: Services): void {
  const impression = impressionPixel(s);
  const countHit = destinationHitCounter(s.metrics);
  app.get('/i', { schema: IMPRESSION_ROUTE, ...describedOnly }, async (req, reply) => {
    if (headOnly(s, 'i', req.method)) {
      // What GET would warn about (a link check learns that its ids are wrong), else `head`.
      const q = req.query as Query;
      const problem = pixelProblem(s.environment(param(q, 'env_id') ?? ''), q, 'imp_id');
      const macros = macroWarnings(readParams(q, IMPRESSION_PARAMS));
      return sendGif(reply, problem ? [problem] : [...macros, 'head']);
    }
    const answer = impression(req.query as Query, req);
    return sendGif(reply, answer.warnings, answer.cookie);
  });

  app.get('/p', async (req, reply) => {
    if (headOnly(s, 'p', req.method)) {
      const q = req.query as Query;
      const known = s.environment(param(q, 'env_id') ?? '');
      const macros = macroWarnings(readParams(q, P_PARAMS));
      return sendGif(reply, known ? [...macros, 'head'] : ['unknown_env']);
    }
    s.metrics.hit('p');
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    if (!env) {
      s.metrics.invalidHits.inc({
        endpoint: 'p',
        reason: param(q, 'env_id') ? 'unknown_env' : 'missing_env_id',
      });
      return sendGif(reply, ['unknown_env']);
    }
    const p = readParams(q, P_PARAMS);
    const dest = param(q, 'dest_id');
    countHit(env.id, dest && findDestination(env, dest) ? dest : '', 'p', p.macros);
    const macros = macroWarnings(p);
    const traffic = classifyTraffic(req);
    const consent = requestConsent(req, env, undefined, q);
    const anon = browserId(s, env, req, adsPermitted(consent), traffic, q);
    if (anon.cookie) reply.header('set-cookie', anon.cookie);
    const campaign: Record<string, string> = {};
    for (const key of P_CAMPAIGN_PARAMS) {
      const v = p.get(key);
      if (v !== undefined) campaign[key] = v;
    }
    const event = {
      env_id: env.id,
      event_name: p.get('ev'),
      // A macro event id would make every such hit one event: the pipeline gives it an id.
      event_id: p.get('eid'),
      user: {
        user_id: p.get('user_id'),
        click_id: p.get('click_id'),
        imp_id: p.get('imp_id'),
        anonymous_id: anon.id ?? undefined,
      },
      properties: {
        value: param(q, 'value'),
        currency: param(q, 'currency'),
        content_ids: param(q, 'content_ids')?.split(','),
        url: req.headers.referer,
        ...campaign,
      },
      test_event_code: param(q, 'test_code'),
    };
    const sig = param(q, 'sig');
    const facts: RequestFacts = {
      source: 'pixel',
      browserConsent: () => consent,
      traffic,
      seen: requestUser(req),
      ipFromRequest: true,
      browserSent: true,
    };
    // Refused or failed writes are counted by the pipeline; a pixel never reports them.
    const report = await ingest(s, [{ index: 0, env, event, facts, signature: sig }], 'queue');
    const stored = report.events[0];
    if (!stored) {
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: 'invalid_event' });
      return sendGif(reply, [...macros, ...report.errors.map((e) => `${e.field} ${e.message}`)]);
    }
    if (traffic !== 'human') s.metrics.invalidHits.inc({ endpoint: 'p', reason: traffic });
    const warnings = [...macros, ...stored.warnings];
    if (traffic !== 'human') warnings.push(traffic);
    if (sig && stored.verified !== 'signature') warnings.push('bad_signature');
    return sendGif(reply, warnings);
  });
  clickRoute(app, s);
}
