import type { FastifyRequest } from 'fastify';
import type { Traffic } from '../domain/event.js';
import { isBotAgent } from './bot-filter.js';

/**
 * Mail privacy proxies and link scanners that fetch on a person's behalf but are not the
 * person: Gmail's image proxy, Yahoo's, Microsoft Safe Links and the big mail-security
 * gateways. Apple Mail Privacy Protection prefetches with the bare `Mozilla/5.0` agent.
 */
const PROXY_AGENT_RE =
  /GoogleImageProxy|ggpht\.com|YahooMailProxy|Safe ?Links|Barracuda|Proofpoint|Mimecast|urldefense|BingPreview|Slackbot-LinkExpanding|Google-Safety/i;
const APPLE_MPP_AGENT = 'Mozilla/5.0';

/**
 * Classes a request: `prefetch` when the browser says it is prefetching or prerendering
 * (`Sec-Purpose`, the older `Purpose` and `X-Moz`), or a mail proxy fetched it; `bot` for
 * crawlers and scanners (isbot); else `human`.
 */
export function classifyTraffic(req: FastifyRequest): Traffic {
  const purpose = `${req.headers['sec-purpose'] ?? ''} ${req.headers.purpose ?? ''} ${req.headers['x-moz'] ?? ''}`;
  if (/prefetch|prerender/i.test(purpose)) return 'prefetch';
  const ua = req.headers['user-agent'];
  if (ua === APPLE_MPP_AGENT) return 'prefetch';
  if (ua && PROXY_AGENT_RE.test(ua))
    return /GoogleImageProxy|ggpht|YahooMailProxy/i.test(ua) ? 'prefetch' : 'bot';
  return isBotAgent(ua) ? 'bot' : 'human';
}
