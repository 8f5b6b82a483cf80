import http from 'node:http';
import { parse as parseQuery } from 'fast-querystring';
import type { FastifyBaseLogger, FastifyServerFactory } from 'fastify';
import { MAX_REQUEST_HEAD_BYTES } from '../client-error.js';
import type { AuthFailures } from '../plugins/auth-failures.js';
import type { ClientWindows } from '../plugins/client-windows.js';
import {
  defaultMaxConnections,
  guardConnections,
  timeoutCheckIntervalMs,
} from '../plugins/connection-guard.js';
import { browserRequest } from '../plugins/node-request.js';
import { limitHeaders, limitOf, RATE_WINDOW_MS } from '../plugins/rate-limits.js';
import { NOSNIFF } from '../plugins/security-headers.js';
import { trustFunction } from '../plugins/trust-proxy.js';
import { rewriteUrl } from '../plugins/url-rewrite.js';
import type { Query } from '../request/query.js';
import type { Services } from '../services.js';
import { beaconFastPath } from './beacon-fast-path.js';
import { GIF_HEADERS, TRANSPARENT_GIF, TRANSPARENT_GIF_LATIN1 } from './gif.js';
import { impressionPixel, type PixelAnswer } from './pixel-hit.js';
import { postFastPath } from './post-fast-path.js';

/** What the fast path needs of the app around it. */
export interface FastPathDeps {
  services: Services;
  /** The rate limiter's windows (the same ones the Fastify app counts in). */
  windows: ClientWindows;
  /** Failed authentications per IP (the same ones the Fastify app counts). */
  failures: AuthFailures;
  log: () => FastifyBaseLogger;
  /** True once the app is closing: Fastify then answers 503 and closes connections. */
  closing: () => boolean;
  /** False: Fastify answers `/i` and `/v1/events` too (the server is still this one). */
  enabled?: boolean;
}

/** The headers of every GIF answer, flattened once. */
const GIF_HEADER_LIST: string[] = [
  ...Object.entries(GIF_HEADERS).flat(),
  NOSNIFF.name,
  NOSNIFF.value,
  'content-length',
  String(TRANSPARENT_GIF.length),
];

const ERROR_WARNING = ['x-pixeltrail-warnings', 'error'];

function sendGif(res: http.ServerResponse, status: number, headers: string[]): void {
  res.writeHead(status, headers);
  res.end(TRANSPARENT_GIF_LATIN1, 'latin1');
}

/**
 * A node:http server that answers `GET /i`, the plain `POST /v1/events` and Segment calls
 * (post-fast-path.ts) and the plain beacons `POST /e` (beacon-fast-path.ts) itself, and
 * hands every other request to Fastify.
 * The impression pixel is the product's hot path: Fastify's routing, hooks, per-request
 * logger and reply object cost about as much as the pixel's own work. The answer is the
 * one Fastify's `/i` route gives (same `impressionPixel`, same headers, same rate limit
 * windows, same reading of `trust_proxy`); requests this path does not handle exactly like
 * Fastify (with an Authorization header, HEAD, while closing) go to Fastify.
 */
export function pixelFastPath(deps: FastPathDeps): FastifyServerFactory {
  const { services: s, windows } = deps;
  const impression = impressionPixel(s);
  const prefix = s.config.path_prefix;
  const trust = trustFunction(s.config.trust_proxy);
  const post = postFastPath({
    services: s,
    windows,
    failures: deps.failures,
    trust,
    log: deps.log,
  });
  const beacon = beaconFastPath({ services: s, windows, trust, log: deps.log });
  // A commit that starts before this turn's hits are answered takes their touches first.
  s.pipeline.recordHeldBack(() => answerHits());

  /** Answers the request; false when Fastify should. */
  function serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handler: http.RequestListener,
  ): boolean {
    if (deps.closing()) return false;
    if (req.method === 'POST') {
      const url = rewriteUrl(req.url ?? '/', prefix);
      return url === '/e' ? beacon(req, res, handler) : post(req, res, url, handler);
    }
    if (req.method !== 'GET' || req.headers.authorization) return false;
    const url = rewriteUrl(req.url ?? '/', prefix);
    // Only `/i?…` (a Snowplow `/i` hit was rewritten to its own route, a bare `/i` is rare).
    if (url.charCodeAt(1) !== 105 || url.charCodeAt(2) !== 63 || url.charCodeAt(0) !== 47)
      return false;
    if (hits.length === 0) setImmediate(answerHits);
    hits.push(req, res, url);
    return true;
  }

  /**
   * The `/i` hits read in this turn of the event loop, three entries each (request, response,
   * URL), answered together once the loop has read every request waiting on its sockets
   * (setImmediate runs after the poll phase), as the events' group commit does. Each hit
   * answered as soon as it was parsed cost the process more for the same work: 50-61 µs of
   * CPU a hit against 41-44, its main thread 36-47 against 30-32, of which kernel time
   * 12-14 against 8-10.5 (bench/pixel-rounds.mjs, the same rounds; bench/RESULTS.md, issue 22
   * goal 2). The pixel's code and data run warm through a turn's hits instead of cold after
   * node:http and the kernel ran in between, and the answers go out together. A hit counts
   * against its IP's rate limit when it is answered, so a request read after it in the same
   * turn may count first.
   */
  let hits: unknown[] = [];
  function answerHits(): void {
    const turn = hits;
    hits = [];
    for (let i = 0; i < turn.length; i += 3) {
      const res = turn[i + 1] as http.ServerResponse;
      try {
        pixel(turn[i] as http.IncomingMessage, res, turn[i + 2] as string);
      } catch (err) {
        // One hit's failure answers that hit alone: the rest of the turn is still answered.
        deps.log().error({ err }, 'pixel request failed');
        if (!res.headersSent) sendGif(res, 500, [...GIF_HEADER_LIST, ...ERROR_WARNING]);
        // Its head went out and its end could not: the client must not wait for the rest.
        else if (!res.writableEnded) res.destroy();
      }
    }
  }

  function pixel(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
    const view = browserRequest(req, trust);
    const headers = GIF_HEADER_LIST.slice();
    // The pixel carries no credential: the client's address is its rate-limit key.
    const max = limitOf(s.config, 'ip:');
    if (max > 0) {
      const w = windows.hit(`ip:${view.ip}`, RATE_WINDOW_MS);
      const resetS = String(Math.ceil(w.ttl / 1000));
      if (w.current > max) {
        headers.push('x-ratelimit-limit', String(max), 'x-ratelimit-remaining', '0');
        headers.push('x-ratelimit-reset', resetS, 'retry-after', resetS);
        headers.push('x-pixeltrail-warnings', 'rate_limited');
        sendGif(res, 429, headers);
        return;
      }
      headers.push(...limitHeaders(max, w));
    }
    let answer: PixelAnswer;
    try {
      answer = impression(parseQuery(url.slice(3)) as Query, view);
    } catch (err) {
      deps.log().error({ err }, 'pixel request failed');
      headers.push(...ERROR_WARNING);
      sendGif(res, 500, headers);
      return;
    }
    if (answer.cookie) headers.push('set-cookie', answer.cookie);
    if (answer.warnings.length > 0)
      headers.push('x-pixeltrail-warnings', answer.warnings.join(', '));
    sendGif(res, 200, headers);
  }

  return (handler, opts) => {
    const enabled = deps.enabled !== false;
    const requestTimeoutMs = s.config.body_timeout_ms;
    const server = http.createServer(
      {
        maxHeaderSize: MAX_REQUEST_HEAD_BYTES,
        connectionsCheckingInterval: timeoutCheckIntervalMs(requestTimeoutMs),
      },
      (req, res) => {
        if (!enabled || !serve(req, res, handler)) handler(req, res);
      },
    );
    // What Fastify sets on a server it creates itself (its options carry the defaults); the
    // request timeout is ours, against bodies that trickle in.
    const o = opts as { keepAliveTimeout: number; connectionTimeout: number };
    server.keepAliveTimeout = o.keepAliveTimeout;
    server.setTimeout(o.connectionTimeout);
    guardConnections(
      server,
      { maxConnections: s.config.max_connections ?? defaultMaxConnections(), requestTimeoutMs },
      {
        open: (count) => s.metrics.connectionsOpen.set(count),
        shed: () => s.metrics.connectionsShed.inc(),
      },
    );
    return server;
  };
}
