import http from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { GIF_HEADERS, TRANSPARENT_GIF } from './collect/gif.js';
import { NOSNIFF } from './plugins/security-headers.js';
import { rewriteUrl } from './plugins/url-rewrite.js';
import type { Services } from './services.js';
import { SNOWPLOW_GET_PATH } from './snowplow-paths.js';

/**
 * Request line and headers node:http reads before refusing the request (Node's default is
 * 16 KiB). Ad servers expand macros into long pixel URLs, and under a first-party path prefix
 * the advertiser's own cookies come along; Cloudflare passes URLs up to 32 KiB. Under node:http's
 * 64 KiB read, so a head over the limit that came in one read (from a proxy beside the server,
 * typically) still shows its request line to clientErrorHandler.
 */
export const MAX_REQUEST_HEAD_BYTES = 32 * 1024;

/** Image endpoints by path: what a refused request to one of them is counted under. */
const IMAGE_ENDPOINTS = new Map([
  ['/i', 'i'],
  ['/p', 'p'],
  [SNOWPLOW_GET_PATH, 'snowplow'],
]);

/** The whole answer to an oversized image request: the GIF, its headers and the warning. */
const GIF_ANSWER = Buffer.concat([
  Buffer.from(
    [
      'HTTP/1.1 200 OK',
      ...Object.entries(GIF_HEADERS).map(([k, v]) => `${k}: ${v}`),
      `${NOSNIFF.name}: ${NOSNIFF.value}`,
      'x-pixeltrail-warnings: request_too_large',
      `content-length: ${TRANSPARENT_GIF.length}`,
      'connection: close',
      '',
      '',
    ].join('\r\n'),
  ),
  TRANSPARENT_GIF,
]);

/**
 * The request target of a request node:http could not parse: the read that overflowed
 * (`rawPacket`), when it holds the request line. A request whose head came in several reads
 * (a client far away) overflowed in a later one, and its target is no longer at hand: it gets
 * the JSON 431. node:http's parser reads the socket itself; a `data` listener keeping each
 * connection's first read takes that path away from every request (2 µs more per pixel hit
 * in node:http's socketOnData, in the bench's CPU profile).
 */
function requestTarget(err: ConnectionError): string {
  return /^GET (\/\S*)/.exec(requestStart(err))?.[1] ?? '';
}

/** The first bytes of the read that failed, when node:http kept it. */
function requestStart(err: ConnectionError): string {
  // Typed by Fastify as a JSON-serialised Buffer; node:http passes the Buffer itself.
  const raw: unknown = err.rawPacket;
  return Buffer.isBuffer(raw) ? raw.toString('latin1', 0, 512) : '';
}

/**
 * Answers a request node:http refused before any route saw it (Fastify's `clientErrorHandler`).
 * An image endpoint still answers the GIF, with the reason in `X-Pixeltrail-Warnings`, and
 * counts the hit: an `<img>` must not get a JSON page. Everything else gets our JSON error.
 */
export function clientErrorHandler(s: Services): (err: ConnectionError, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has no one to answer (as Fastify's default handler).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW' || err.code === 'HPE_URI_TOO_LONG';
    const target = tooLarge ? rewriteUrl(requestTarget(err), s.config.path_prefix) : '';
    const endpoint = IMAGE_ENDPOINTS.get(target.split('?', 1)[0] ?? '');
    if (endpoint) {
      s.metrics.hit(endpoint);
      s.metrics.invalidHits.inc({ endpoint, reason: 'request_too_large' });
      if (socket.writable) socket.write(GIF_ANSWER);
      socket.destroy();
      return;
    }
    const [status, code, message] = tooLarge
      ? [
          431,
          'headers_too_large',
          `the request line and headers exceed ${MAX_REQUEST_HEAD_BYTES} bytes`,
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : [400, 'bad_request', 'the request is not valid HTTP'];
    const body = JSON.stringify({ error: { code, message } });
    // An answer to HEAD has the headers GET's would have, and no body (RFC 9110 §9.3.2).
    const head = requestStart(err).startsWith('HEAD ');
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? '' : body}`,
      );
    socket.destroy();
  };
}
