import type http from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { errorStatus } from '../errors.js';
import type { ClientWindows } from '../plugins/client-windows.js';
import { browserRequest } from '../plugins/node-request.js';
import { limitHeaders, limitOf, RATE_WINDOW_MS } from '../plugins/rate-limits.js';
import { NOSNIFF } from '../plugins/security-headers.js';
import type { TrustFn } from '../plugins/trust-proxy.js';
import type { HeaderSink } from '../request/identity.js';
import type { Services } from '../services.js';
import { beaconFailed, collectBeacon, MAX_BEACON_BYTES } from './beacon.js';
import { readBody, replay } from './post-fast-path.js';

/** What the beacon's fast path needs of the app around it (see pixelFastPath). */
export interface BeaconFastPathDeps {
  services: Services;
  windows: ClientWindows;
  trust: TrustFn | null;
  log: () => FastifyBaseLogger;
}

/**
 * The content types the tag sends (sendBeacon's and fetch's string body) and the JSON ones;
 * any other goes to Fastify, whose catch-all parser reads every valid type alike and
 * answers an invalid one (415, counted as a bad body by the route).
 */
const PLAIN_TYPES = new Set([
  'text/plain;charset=UTF-8',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/json',
  'application/json; charset=utf-8',
]);

/** The answer's header list, as a HeaderSink (a FastifyReply's `header`, for collectBeacon). */
class HeaderList implements HeaderSink {
  readonly list: string[];
  constructor(list: string[]) {
    this.list = list;
  }
  header(name: string, value: string): this {
    this.list.push(name, value);
    return this;
  }
}

/**
 * `POST /e`, the tag's beacon, answered in front of Fastify when the request is plain:
 * Fastify's routing, hooks, content-type parsing and reply cost the beacon 25-30 µs of CPU
 * over a bare node:http server, of 121-134 µs in all (bench/RESULTS.md, issue 22).
 *
 * The answer is the route's, from the same code (collectBeacon, beacon.ts): 204 after the
 * commit, the same CORS, cache and nosniff headers, the same `ptid` cookie, the same
 * counters, and the client IP's rate-limit window (a beacon carries no credential) with its
 * headers. Everything else goes to Fastify: before the body is read when the head says so (a
 * query string, an Authorization header, another content type, no or too large a
 * Content-Length, a chunked or encoded body, an IP over its limit); after it, by replaying
 * it, when the body is shorter than announced (Fastify counts it and answers 204) or the
 * IP's window filled up meanwhile. Returns false when Fastify should answer.
 */
export function beaconFastPath(
  deps: BeaconFastPathDeps,
): (req: http.IncomingMessage, res: http.ServerResponse, handler: http.RequestListener) => boolean {
  const { services: s, windows, trust } = deps;

  function send(res: http.ServerResponse, headers: string[]): void {
    headers.push(NOSNIFF.name, NOSNIFF.value);
    res.writeHead(204, headers);
    res.end();
  }

  return (req, res, handler) => {
    const h = req.headers;
    if (h.authorization !== undefined) return false;
    const type = h['content-type'];
    if (type === undefined || !PLAIN_TYPES.has(type)) return false;
    if (h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined) return false;
    const length = Number(h['content-length']);
    if (!(length > 0 && length <= MAX_BEACON_BYTES)) return false;
    const view = browserRequest(req, trust);
    // No credential: the client's address is the rate-limit key, as in Fastify's limiter. A
    // client over its limit gets Fastify's answer (and is counted there) before its body is
    // read; checked again once the body is in, other requests may have used the window up.
    const key = `ip:${view.ip}`;
    const max = limitOf(s.config, key);
    if (max > 0 && windows.current(key, RATE_WINDOW_MS).current >= max) return false;
    readBody(req, (body, received) => {
      // Counted only once the fast path answers: a request left to Fastify is counted there.
      if (received !== length || (max > 0 && windows.current(key, RATE_WINDOW_MS).current >= max)) {
        handler(replay(req, body), res);
        return;
      }
      const limits = max > 0 ? limitHeaders(max, windows.hit(key, RATE_WINDOW_MS)) : [];
      const reply = new HeaderList(limits.slice());
      // Decoded once, as Fastify's string parser does (bad UTF-8 becomes U+FFFD).
      collectBeacon(s, view, {}, body.toString('utf8'), reply)
        .then(
          () => send(res, reply.list),
          (err: unknown) => {
            // As the route's error handler (beacon.ts): a 429 would be Fastify's to answer,
            // but nothing in collectBeacon throws one; the limiter's headers stay, the rest
            // is set anew.
            const failed = new HeaderList(limits);
            if (beaconFailed(s, view, errorStatus(err), failed) === 'error')
              deps.log().error({ err }, 'beacon request failed');
            send(res, failed.list);
          },
        )
        .catch((err: unknown) => deps.log().error({ err }, 'beacon answer failed'));
    });
    return true;
  };
}
