import type { Traffic } from '../../domain/event.js';
import { isBotAgent, MAX_REMEMBERED_AGENT_CHARS } from './bot-filter.js';
import type { BrowserRequest } from './identity.js';

/**
 * Mail privacy proxies and link scanners that fetch on a person's behalf but are not the
 * person: Gmail's image proxy, Yahoo's, Microsoft Safe Links and the big mail-security
 * gateways. Apple Mail Privacy Protection prefetches with the bare `Mozilla/5.0` agent.
 */
const PROXY_AGENT_RE =
  /GoogleImageProxy|ggpht\.com|YahooMailProxy|Safe ?Links|Barracuda|Proofpoint|Mimecast|urldefense|BingPreview|Slackbot-LinkExpanding|Google-Safety/i;
const APPLE_MPP_AGENT = 'Mozilla/5.0';
/** User agents whose class is remembered; real traffic repeats a few thousand of them. */
const MAX_REMEMBERED_AGENTS = 5000;
const agentClasses = new Map<string, Traffic>();

/** The class a user agent alone gives; the regular expressions run once per agent. */
function agentTraffic(ua: string | undefined): Traffic {
  const key = ua ?? '';
  let traffic = agentClasses.get(key);
  if (traffic === undefined) {
    if (ua === APPLE_MPP_AGENT) traffic = 'prefetch';
    else if (ua && PROXY_AGENT_RE.test(ua))
      traffic = /GoogleImageProxy|ggpht|YahooMailProxy/i.test(ua) ? 'prefetch' : 'bot';
    else traffic = isBotAgent(ua) ? 'bot' : 'human';
    if (key.length > MAX_REMEMBERED_AGENT_CHARS) return traffic;
    if (agentClasses.size >= MAX_REMEMBERED_AGENTS) agentClasses.clear();
    agentClasses.set(key, traffic);
  }
  return traffic;
}

/**
 * Classes a request: `prefetch` when the browser says it is prefetching or prerendering
 * (`Sec-Purpose`, the older `Purpose` and `X-Moz`), or a mail proxy fetched it; `bot` for
 * crawlers and scanners (isbot); else `human`.
 */
export function classifyTraffic(req: Pick<BrowserRequest, 'headers'>): Traffic {
  const h = req.headers;
  const secPurpose = h['sec-purpose'];
  const purpose = h.purpose;
  const xMoz = h['x-moz'];
  if (
    (secPurpose || purpose || xMoz) &&
    /prefetch|prerender/i.test(`${secPurpose ?? ''} ${purpose ?? ''} ${xMoz ?? ''}`)
  )
    return 'prefetch';
  return agentTraffic(h['user-agent']);
}
