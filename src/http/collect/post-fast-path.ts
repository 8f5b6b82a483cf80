import http from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { parse as secureJsonParse } from 'secure-json-parse';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { MAX_SEGMENT_BATCH_BYTES, MAX_SEGMENT_EVENT_BYTES } from '../../domain/segment-mapping.js';
import { HttpError, httpErrorBody, INTERNAL_ERROR_BODY } from '../errors.js';
import type { AuthFailures } from '../plugins/auth-failures.js';
import type { ClientWindows } from '../plugins/client-windows.js';
import { keyBucket, limitHeaders, limitOf, RATE_WINDOW_MS } from '../plugins/rate-limits.js';
import { NOSNIFF } from '../plugins/security-headers.js';
import { clientAddress, type TrustFn } from '../plugins/trust-proxy.js';
import { bearer, credentialOf, secretDigest } from '../request/key-check.js';
import type { Services } from '../services.js';
import { collectEvents, eventsOfBody, MAX_EVENTS_BODY_BYTES } from './events-api.js';
import { ingestSegment, segmentAnswer } from './segment.js';
import { batchMessages, bytes, type Obj, SERVER_PATHS, singleMessageSize } from './segment-body.js';

/** What the POST fast path needs of the app around it (see pixelFastPath). */
export interface PostFastPathDeps {
  services: Services;
  windows: ClientWindows;
  failures: AuthFailures;
  trust: TrustFn | null;
  log: () => FastifyBaseLogger;
}

/** Fastify's own JSON parsing, `__proto__` and `constructor.prototype` keys removed (app.ts). */
const JSON_OPTIONS = { protoAction: 'remove', constructorAction: 'remove' } as const;

/** Verified write keys the fast path keeps (see `verified` in postFastPath). */
const MAX_VERIFIED_KEYS = 64;

/** A POST route the fast path answers when the request is plain. */
interface FastRoute {
  /** A larger Content-Length is Fastify's to refuse. */
  maxBytes: number;
  /** The write key the route reads from the Authorization header ('' for none). */
  key: (authorization: string | undefined) => string;
  /** Whether a request from a browser page (an Origin header) is the route's own to check. */
  originChecked: boolean;
  /**
   * The route's work for a parsed body, or null when Fastify should answer it (a body the
   * route would refuse): nothing is done until the returned function runs.
   */
  prepare: (
    env: EnvironmentConfig,
    body: unknown,
    received: number,
  ) => (() => Promise<unknown>) | null;
}

/** A JSON object, not an array. */
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The routes of the fast path: the events API and Segment's server endpoints. */
function fastRoutes(s: Services): Map<string, FastRoute> {
  const routes = new Map<string, FastRoute>();
  routes.set('/v1/events', {
    maxBytes: MAX_EVENTS_BODY_BYTES,
    key: bearer,
    originChecked: false,
    prepare: (env, body) => {
      const events = eventsOfBody(body);
      return events && (() => collectEvents(s, env, events));
    },
  });
  // Segment's server libraries: one message per call, or a batch (segment.ts).
  for (const [path, type] of Object.entries(SERVER_PATHS))
    routes.set(`/v1/${path}`, {
      maxBytes: MAX_SEGMENT_EVENT_BYTES,
      key: credentialOf,
      originChecked: true,
      prepare: (env, body, received) => {
        if (!isObject(body)) return null;
        const size = singleMessageSize(body, received);
        if (size === null || size > MAX_SEGMENT_EVENT_BYTES) return null;
        return () => ingestSegment(s, env, [body], type, undefined, [size]).then(segmentAnswer);
      },
    });
  for (const path of ['/v1/batch', '/v1/import'])
    routes.set(path, {
      maxBytes: MAX_SEGMENT_BATCH_BYTES,
      key: credentialOf,
      originChecked: true,
      prepare: (env, body) => {
        if (!isObject(body) || (bytes(body) ?? 0) > MAX_SEGMENT_BATCH_BYTES) return null;
        let messages: unknown[];
        try {
          messages = batchMessages(body);
        } catch {
          return null;
        }
        return () => ingestSegment(s, env, messages, undefined).then(segmentAnswer);
      },
    });
  return routes;
}

/** The content types Fastify's JSON parser takes that the fast path reads itself. */
function isPlainJson(contentType: string | undefined): boolean {
  return contentType === 'application/json' || contentType === 'application/json; charset=utf-8';
}

/**
 * Reads the body whole and gives it with the bytes received (a body shorter than its
 * Content-Length is the caller's to refuse). A client gone mid-body gets nothing, as from
 * Fastify, which answers no one either.
 */
export function readBody(
  req: http.IncomingMessage,
  done: (body: Buffer, received: number) => void,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    chunks.push(chunk);
  });
  req.on('error', () => undefined);
  req.on('end', () =>
    done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received), received),
  );
}

/**
 * The request again, its body read already, for Fastify to answer: everything Fastify reads
 * of a request (method, URL, headers, socket) is the original's, and the body streams again.
 */
export function replay(req: http.IncomingMessage, body: Buffer): http.IncomingMessage {
  const copy = new http.IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  // Complete: a message destroyed before it was (its end read) counts as aborted, and takes
  // the client's keep-alive socket down with it.
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}

/**
 * `POST /v1/events` and Segment's server endpoints answered in front of Fastify, for the
 * requests that need nothing but the route's own work: one event per request is how most
 * backends and Segment's server libraries call us, and Fastify's hooks, content-type parsing
 * and schema check around such a request cost about a tenth of it (bench/RESULTS.md, issue 22).
 *
 * The answer is the route's: the same key check, rate-limit windows and lockouts, the same
 * JSON parsing (secure-json-parse, as Fastify), the same ingest call (collectEvents,
 * ingestSegment), headers and error bodies. Everything else goes to Fastify, which names
 * what is wrong: before the body is read when the head says so (another content type, no or
 * too large a Content-Length, a key that does not open an environment, a locked-out IP, a
 * key over its limit, a query string, an Origin on Segment's routes); after it, by replaying
 * it, when the body is not JSON or not what the route takes, or the key's window filled up
 * meanwhile (Fastify then counts the request and answers it).
 * Returns false when Fastify should answer.
 */
export function postFastPath(
  deps: PostFastPathDeps,
): (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: string,
  handler: http.RequestListener,
) => boolean {
  const { services: s, windows, failures, trust } = deps;
  const routes = fastRoutes(s);

  /**
   * Write keys that opened an environment, each with its digest and rate-limit bucket: a
   * server library presents the same key on every call, and hashing it again and naming its
   * bucket took 1.3-1.6 µs of each single-event request (issue 22). Only keys that verify are
   * kept (a made-up key is never held, as in rate-limits.ts; a valid key is in the config's
   * memory anyway, so a heap dump shows nothing new), at most MAX_VERIFIED_KEYS,
   * cleared when full; the environment is still looked up per request, so a key rotated out
   * stops opening at once.
   */
  const verified = new Map<string, { digest: Buffer; bucket: string }>();

  /** The environment and rate-limit key of a request whose write key verifies. */
  function opened(
    req: http.IncomingMessage,
    route: FastRoute,
  ): { env: EnvironmentConfig; key: string } | null {
    const given = route.key(req.headers.authorization);
    if (!given) return null;
    let known = verified.get(given);
    const digest = known?.digest ?? secretDigest(given);
    const env = s.environmentByWriteKey(digest);
    if (!env) {
      if (known) verified.delete(given);
      return null;
    }
    if (!known) {
      if (verified.size >= MAX_VERIFIED_KEYS) verified.clear();
      known = { digest, bucket: keyBucket(digest) };
      verified.set(given, known);
    }
    // A request presenting a credential from a locked-out IP gets Fastify's 429.
    if (failures.lockedForMs(clientAddress(req, trust)) > 0) return null;
    return { env, key: known.bucket };
  }

  function send(res: http.ServerResponse, status: number, headers: string[], body: unknown) {
    const json = JSON.stringify(body);
    headers.push('content-type', 'application/json; charset=utf-8', NOSNIFF.name, NOSNIFF.value);
    headers.push('content-length', String(Buffer.byteLength(json)));
    res.writeHead(status, headers);
    res.end(json);
  }

  function answer(
    res: http.ServerResponse,
    key: string,
    max: number,
    work: () => Promise<unknown>,
  ): boolean {
    let headers: string[] = [];
    if (max > 0) {
      // Counted only once the fast path answers: a request left to Fastify is counted there.
      if (windows.current(key, RATE_WINDOW_MS).current >= max) return false;
      headers = limitHeaders(max, windows.hit(key, RATE_WINDOW_MS));
    }
    work().then(
      (result) => send(res, 200, headers, result),
      (err: unknown) => {
        if (err instanceof HttpError) {
          if (err.retryAfterS !== undefined) {
            deps.log().warn({ err }, 'request refused, to be retried');
            headers.push('retry-after', String(err.retryAfterS));
          }
          send(res, err.status, headers, httpErrorBody(err));
        } else {
          deps.log().error({ err }, 'request failed');
          send(res, 500, headers, INTERNAL_ERROR_BODY);
        }
      },
    );
    return true;
  }

  return (req, res, url, handler) => {
    const route = routes.get(url);
    if (!route || !isPlainJson(req.headers['content-type'])) return false;
    if (route.originChecked && req.headers.origin !== undefined) return false;
    if (
      req.headers['transfer-encoding'] !== undefined ||
      req.headers['content-encoding'] !== undefined
    )
      return false;
    const length = Number(req.headers['content-length']);
    if (!(length > 0 && length <= route.maxBytes)) return false;
    const open = opened(req, route);
    if (!open) return false;
    // A client over its limit gets Fastify's 429 before its body is read, as before the fast
    // path (checked again once the body is in: other requests may have used the window up).
    const max = limitOf(s.config, open.key);
    if (max > 0 && windows.current(open.key, RATE_WINDOW_MS).current >= max) return false;
    readBody(req, (body, received) => {
      let work: (() => Promise<unknown>) | null = null;
      if (received === length) {
        try {
          work = route.prepare(
            open.env,
            secureJsonParse(body.toString('utf8'), null, JSON_OPTIONS),
            received,
          );
        } catch {
          work = null;
        }
      }
      if (!work || !answer(res, open.key, max, work)) handler(replay(req, body), res);
    });
    return true;
  };
}
