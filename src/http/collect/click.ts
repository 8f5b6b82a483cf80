import type { FastifyInstance } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { decideRedirect, tagRunsOn, verifyClick, withClickId } from '../../domain/click-link.js';
import { adsPermitted } from '../../domain/consent.js';
import { isPlayStoreLink, withPlayReferrer } from '../../domain/install-referrer.js';
import { readTrafficSource } from '../../domain/traffic-source.js';
import { landingContext } from '../../ingest/source-list.js';
import { requestConsent } from '../request/consent.js';
import { param, type Query } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { destinationHitCounter } from './macro-counts.js';
import {
  browserId,
  headOnly,
  macroWarnings,
  readParams,
  TOUCH_PARAMS,
  touchFrom,
} from './pixel-hit.js';

const CLICK_PARAMS = ['click_id', ...TOUCH_PARAMS];

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
 * the destination's; by default only where something reads it: our tag (the environment's
 * allowed origins), or the app a Google Play link installs (its install referrer, issue 25).
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
  return isPlayStoreLink(location) || tagRunsOn(allowedOrigins, location);
}

/** The landing URL with the click id: inside a Play link's `referrer`, else on the query. */
function withClick(location: string, name: string, clickId: string): string {
  return isPlayStoreLink(location)
    ? withPlayReferrer(location, name, clickId)
    : withClickId(location, name, clickId);
}

/** Query as plain strings (first value of repeated keys dropped: a signature covers one). */
function flatQuery(q: Query): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string') flat[k] = v;
  return flat;
}

/** `/c`, the click redirect (DESIGN §5): records the click as a touch, then redirects. */
export function clickRoute(app: FastifyInstance, s: Services): void {
  const countHit = destinationHitCounter(s.metrics);
  app.get('/c', async (req, reply) => {
    const head = headOnly(s, 'c', req.method);
    if (!head) s.metrics.hit('c');
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
        ? withClick(decision.location, env.click_id_param, clickId)
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
      const touch = touchFrom(env, 'click', clickId, q, p, req, anon.id, nowS, traffic);
      // The UTM fields of the link's landing URL name the click's source in channel reports.
      const landing = readTrafficSource({ url: decision.location }, landingContext(env));
      if (landing?.by === 'utm') touch.traffic_source = landing;
      s.pipeline.recordTouch(touch);
    }
    if (traffic !== 'human') s.metrics.invalidHits.inc({ endpoint: 'c', reason: traffic });
    return redirect();
  });
}
