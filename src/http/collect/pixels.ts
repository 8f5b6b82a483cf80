import type { FastifyInstance, FastifyReply } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { decideRedirect, tagRunsOn, verifyClick, withClickId } from '../../domain/click-link.js';
import { adsPermitted } from '../../domain/consent.js';
import { verifyEventSignature } from '../../domain/event-signature.js';
import { validateEvent } from '../../domain/validation.js';
import { describedOnly } from '../openapi.js';
import { requestConsent } from '../request/consent.js';
import { requestUser } from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './gif.js';
import { IMPRESSION_ROUTE } from './impression-query.js';
import { destinationHitCounter } from './macro-counts.js';
import {
  browserId,
  headOnly,
  IMPRESSION_PARAMS,
  impressionPixel,
  macroWarnings,
  param,
  pixelProblem,
  type Query,
  readParams,
  TOUCH_PARAMS,
  touchFrom,
} from './pixel-hit.js';

function sendGif(reply: FastifyReply, warnings: string[], cookie?: string): FastifyReply {
  reply.headers(GIF_HEADERS);
  if (cookie) reply.header('set-cookie', cookie);
  // A pixel can only answer with an image; its problems travel in a header instead.
  if (warnings.length > 0) reply.header('x-pixeltrail-warnings', warnings.join(', '));
  return reply.status(200).send(TRANSPARENT_GIF);
}

/** A link's `append_click_id=0` (or false, no, off) keeps its landing URL as it is. */
function turnedOff(v: string | undefined): boolean {
  return v !== undefined && ['0', 'false', 'no', 'off'].includes(v.toLowerCase());
}

/** A link's `append_click_id=1` (or true, yes, on) appends it whatever the default. */
function turnedOn(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());
}

/**
 * Whether `/c` appends the click id (issue 19 §2): the link's own `append_click_id` first, then
 * the destination's; by default only where our tag runs (the environment's allowed origins),
 * since nothing else reads it.
 */
function appendsClickId(
  link: string | undefined,
  dest: boolean | undefined,
  allowedOrigins: readonly string[],
  location: string,
): boolean {
  if (turnedOff(link)) return false;
  if (turnedOn(link)) return true;
  if (dest !== undefined) return dest;
  return tagRunsOn(allowedOrigins, location);
}

/** Query as plain strings (first value of repeated keys dropped: a signature covers one). */
function flatQuery(q: Query): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string') flat[k] = v;
  return flat;
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
const CLICK_PARAMS = ['click_id', ...TOUCH_PARAMS];

/** `/i` impression pixel, `/p` event pixel and `/c` click redirect (DESIGN §5). */
export function pixelRoutes(app: FastifyInstance, s: Services): void {
  // Refused or failed writes are counted by the pipeline; a pixel never reports them.
  const swallow = () => undefined;

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
    s.metrics.hits.inc({ endpoint: 'p' });
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
    const result = validateEvent(
      {
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
      },
      {
        nowMs: s.nowMs(),
        source: 'pixel',
        envId: env.id,
        newId: () => s.newId('gen_'),
        requestUser: requestUser(req),
        ipFromRequest: true,
      },
    );
    if (!result.ok) {
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: 'invalid_event' });
      return sendGif(reply, [...macros, ...result.errors.map((e) => `${e.field} ${e.message}`)]);
    }
    const event = result.event;
    event.consent = consent;
    event.browser_sent = true;
    if (traffic !== 'human') {
      event.traffic = traffic;
      s.metrics.invalidHits.inc({ endpoint: 'p', reason: traffic });
    }
    const warnings = [...macros, ...event.warnings];
    if (traffic !== 'human') warnings.push(traffic);
    const sig = param(q, 'sig');
    if (sig && verifyEventSignature(env.click_secret, event, sig)) event.verified = 'signature';
    else if (sig) warnings.push('bad_signature');
    s.pipeline.recordEvents([event]).then(() => s.worker.wake(), swallow);
    return sendGif(reply, warnings);
  });

  app.get('/c', async (req, reply) => {
    const head = headOnly(s, 'c', req.method);
    if (!head) s.metrics.hits.inc({ endpoint: 'c' });
    const q = req.query as Query;
    const env = s.environment(param(q, 'env_id') ?? '');
    const refuse = (reason: string, message: string) => {
      if (!head) s.metrics.invalidHits.inc({ endpoint: 'c', reason });
      return reply
        .status(400)
        .header('cache-control', 'no-store')
        .send({ error: { code: reason, message } });
    };
    if (!env) return refuse('unknown_env', 'env_id is missing or unknown');
    const flat = flatQuery(q);
    const signed = verifyClick(env.click_secret, flat);
    if (flat.sig && !signed) return refuse('bad_signature', 'the link signature does not match');
    // `exp` (Unix s) is covered by the signature, so an expiring link cannot be extended.
    if (signed && flat.exp && !(Number(flat.exp) * 1000 > s.nowMs()))
      return refuse('link_expired', 'the link has expired');
    const decision = decideRedirect(flat.url, signed, env.click_url_hosts);
    if (!decision.ok)
      return refuse(decision.reason, `url is not a permitted redirect target (${decision.reason})`);
    const dest = param(q, 'dest_id');
    const destination = findDestination(env, dest);
    const traffic = classifyTraffic(req);
    const allowed = adsPermitted(requestConsent(req, env, undefined, q));
    const p = readParams(q, CLICK_PARAMS);
    // A click_id that is a macro names no click: the click is kept under an id of ours.
    const clickId = p.get('click_id') ?? s.newId('clk_');
    // The landing page learns the click first-party; not for a person who opted out.
    const location =
      allowed &&
      appendsClickId(
        flat.append_click_id,
        destination?.append_click_id,
        env.allowed_origins,
        decision.location,
      )
        ? withClickId(decision.location, env.click_id_param, clickId)
        : decision.location;
    const redirect = () => {
      reply.status(302).header('cache-control', 'no-store').header('location', location);
      if (p.macros.length > 0) reply.header('x-pixeltrail-warnings', macroWarnings(p).join(', '));
      return reply.send();
    };
    // A link checker learns where the link goes (the same 302) and leaves no click behind.
    if (head) return redirect();
    if (dest && !destination) s.metrics.invalidHits.inc({ endpoint: 'c', reason: 'unknown_dest' });
    countHit(env.id, destination?.id ?? '', 'c', p.macros);
    const anon = browserId(s, env, req, allowed, traffic, q);
    if (anon.cookie) reply.header('set-cookie', anon.cookie);
    // A prefetch or prerender of a link is not a click; a scanner's is kept, flagged.
    if (allowed && traffic !== 'prefetch') {
      const nowS = Math.floor(s.nowMs() / 1000);
      s.pipeline.recordTouch(touchFrom(env, 'click', clickId, q, p, req, anon.id, nowS, traffic));
    }
    if (traffic !== 'human') s.metrics.invalidHits.inc({ endpoint: 'c', reason: traffic });
    return redirect();
  });
}
