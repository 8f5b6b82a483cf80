import http from 'node:http';
import https from 'node:https';
import type { HttpResult, HttpSend, OutgoingRequest } from './destinations/adapter.js';

/**
 * How much of a response body adapters get to read: platforms list per-row failures in
 * long bodies (Google partialFailureError, Reddit invalid_events), so read them whole up to
 * a bound; the delivery log keeps only its own shorter excerpt.
 */
export const RESPONSE_READ_CHARS = 64 * 1024;

/** The keep-alive agents a sender connects through, by URL protocol. */
export interface Agents {
  'http:': http.Agent;
  'https:': https.Agent;
}

/** What a sender checks of a request besides sending it (guarded-send.ts). */
export interface SendChecks {
  /** Answers for a URL before anything is sent (a refused address), else null. */
  refuse?: (url: URL) => HttpResult | null;
  /** The delivery log's name for a request's error, where the sender has its own. */
  errorName?: (e: Error & { code?: string }) => string | undefined;
}

/** Keep-alive agents; `lookup` resolves (and may refuse) the host of each new connection. */
export function keepAliveAgents(lookup?: http.AgentOptions['lookup']): Agents {
  return {
    'http:': new http.Agent({ keepAlive: true, ...(lookup ? { lookup } : {}) }),
    'https:': new https.Agent({ keepAlive: true, ...(lookup ? { lookup } : {}) }),
  };
}

/**
 * Sends over node:http and node:https through `agents`, with a timeout; redirects are not
 * followed, network failures come back as results (the error's code: ECONNREFUSED…, or
 * TimeoutError), never throws.
 *
 * Not fetch: Node's fetch (undici, WHATWG streams) cost about 540 µs more CPU a request than
 * node:http with a keep-alive agent (a POST to a receiver on 127.0.0.1, 3 runs of 3,000:
 * 750 against 210 µs, client and receiver), the larger part of a delivery's cost (issue 22,
 * fifteenth round).
 */
export function agentSend(agents: Agents, checks: SendChecks = {}): HttpSend {
  return async (req: OutgoingRequest, timeoutMs: number): Promise<HttpResult> => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { kind: 'network', error: 'invalid_url' };
    }
    const agent = agents[url.protocol as keyof Agents];
    if (!agent) return { kind: 'network', error: 'unsupported_protocol' };
    const refused = checks.refuse?.(url);
    if (refused) return refused;
    const deadline = Date.now() + timeoutMs;
    const first = await sendOnce(url, req, agent, timeoutMs, checks);
    // A kept-alive connection the receiver closed while idle fails the next request on it
    // before any answer: sent again once, on a new connection (Node's advice for
    // `reusedSocket`). Anything else is the attempt's result.
    if (!first.staleSocket) return first.result;
    return (await sendOnce(url, req, agent, Math.max(1, deadline - Date.now()), checks)).result;
  };
}

/**
 * What fetch sent unless told otherwise, kept so receivers see what they saw: a user agent
 * (now pixeltrail's own) and `accept`.
 */
const DEFAULT_HEADERS = { accept: '*/*', 'user-agent': 'pixeltrail' };

/** One request; `staleSocket` when it failed on a reused connection before any answer. */
function sendOnce(
  url: URL,
  req: OutgoingRequest,
  agent: http.Agent,
  timeoutMs: number,
  checks: SendChecks,
): Promise<{ result: HttpResult; staleSocket?: boolean }> {
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    const network = (e: Error & { code?: string }): HttpResult => ({
      kind: 'network',
      error: checks.errorName?.(e) ?? e.code ?? e.name,
    });
    // The length always: node:http sends a DELETE's body (an audience removal) with neither
    // a length nor chunks, which the receiver reads as no body at all.
    const headers = {
      ...DEFAULT_HEADERS,
      ...req.headers,
      ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }),
    };
    let out: http.ClientRequest;
    try {
      out = client.request(url, { method: req.method, headers, agent });
    } catch (e) {
      // A header node:http refuses (a newline in a token): a result, as fetch gave.
      return resolve({ result: network(e as Error & { code?: string }) });
    }
    let settled = false;
    const timer = setTimeout(() => {
      // Settled first: destroying the request fails it, or its answer halfway, otherwise.
      done(network(timeoutError()));
      out.destroy();
    }, timeoutMs);
    const done = (result: HttpResult, staleSocket = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ result, staleSocket });
    };
    out.on('error', (e: Error & { code?: string }) =>
      done(network(e), out.reusedSocket && e.code === 'ECONNRESET'),
    );
    out.on('response', (res) => {
      let text = '';
      let failed: (Error & { code?: string }) | null = null;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < RESPONSE_READ_CHARS) text += chunk;
      });
      res.on('error', (e: Error & { code?: string }) => {
        failed = e;
      });
      res.on('end', () =>
        done({
          kind: 'response',
          status: res.statusCode ?? 0,
          retryAfter: headerValue(res.headers['retry-after']),
          bodyExcerpt: text.slice(0, RESPONSE_READ_CHARS),
          contentType: headerValue(res.headers['content-type']),
        }),
      );
      // The connection lost halfway through the answer: no 'end' comes.
      res.on('close', () =>
        done(network(failed ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))),
      );
    });
    out.end(req.body);
  });
}

function headerValue(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
}

/** The name fetch gave a timed-out request, which the delivery log has always shown. */
function timeoutError(): Error {
  const e = new Error('the destination did not answer in time');
  e.name = 'TimeoutError';
  return e;
}
