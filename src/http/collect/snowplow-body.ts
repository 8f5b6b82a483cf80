import type { FastifyRequest } from 'fastify';
import type { UserKeys } from '../../domain/event.js';
import { mapSnowplowPayload } from '../../domain/snowplow-mapping.js';
import type { Arrival, RequestFacts, UnusableArrival } from '../../ingest/ingest.js';
import { requestConsent } from '../request/consent.js';
import { requestUser } from '../request/identity.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { originAllowed } from './browser-cookie.js';

// Snowplow's tracker protocol (payload_data, aid, p, eid):
// https://docs.snowplow.io/docs/events/going-deeper/event-parameters and
// https://docs.snowplow.io/docs/events/http-requests/

/**
 * Whether the tracker asked for server-side anonymisation (`SP-Anonymous: *`, sent by the web
 * tracker's `anonymousTracking: { withServerAnonymisation: true }`): the collector then keeps
 * neither the user's IP address nor its network user id, the cookie it sets
 * (https://docs.snowplow.io/docs/sources/trackers/snowplow-tracker-protocol/going-deeper/http-headers).
 */
export function serverAnonymised(req: Pick<FastifyRequest, 'headers'>): boolean {
  return req.headers['sp-anonymous'] !== undefined;
}

/**
 * Payload items as arrivals; `aid` names the environment. What a browser's request shows
 * fills what an item lacks; an app's or a server's item keeps what it says.
 */
export function toArrivals(
  s: Services,
  req: FastifyRequest,
  items: unknown[],
): (Arrival | UnusableArrival)[] {
  const seen = requestUser(req);
  // Server-side anonymisation: neither the request's address nor the collector's cookie.
  if (serverAnonymised(req)) {
    delete seen.ip;
    delete seen.cookie_id;
  }
  const traffic = classifyTraffic(req);
  const arrivals: (Arrival | UnusableArrival)[] = [];
  items.forEach((item, index) => {
    const mapped = mapSnowplowPayload(item);
    if (mapped.ok === 'skip') return;
    const env = s.environment(mapped.ok ? mapped.app_id : '');
    const origin = req.headers.origin;
    const problems = !mapped.ok
      ? mapped.errors
      : !env
        ? [{ field: 'aid', message: `no environment has the id ${mapped.app_id}` }]
        : !originAllowed(env.allowed_origins, origin)
          ? [{ field: 'aid', message: `origin ${origin} is not allowed` }]
          : null;
    if (problems || !mapped.ok || !env) {
      arrivals.push({ index, problems: problems ?? [] });
      return;
    }
    const user = mapped.event.user as UserKeys;
    const fill: UserKeys = {};
    if (!mapped.server) {
      if (!user.ip && seen.ip) fill.ip = seen.ip;
      if (!user.user_agent && seen.user_agent) fill.user_agent = seen.user_agent;
      if (seen.cookie_id) fill.cookie_id = seen.cookie_id;
    }
    // A browser's user agent says bot or prefetch: stored flagged, never credited, as on
    // the tag's beacon. An app's or a server's agent is its HTTP client's (okhttp, Java),
    // which says nothing of the person.
    const web = !mapped.server && ((item as { p?: unknown })?.p ?? 'web') === 'web';
    const facts: RequestFacts = mapped.server
      ? { source: 'server', seen: fill }
      : {
          source: 'tag',
          seen: fill,
          browserConsent: (e, stated) => requestConsent(req, e, stated),
          traffic: web ? traffic : 'human',
        };
    arrivals.push({
      index,
      env,
      event: { ...mapped.event, env_id: env.id },
      facts,
      fieldNames: mapped.sources,
      choices: mapped.consentChoices,
    });
  });
  return arrivals;
}
