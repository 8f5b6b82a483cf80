import type { HttpResult, HttpSend, OutgoingRequest } from './destinations/adapter.js';

/**
 * How much of a response body adapters get to read: platforms list per-row failures in
 * long bodies (Google partialFailureError, Reddit invalid_events), so read them whole up to
 * a bound; the delivery log keeps only its own shorter excerpt.
 */
export const RESPONSE_READ_CHARS = 64 * 1024;

/** Sends with Node's fetch and a timeout; network failures come back as results, not throws. */
export const fetchSend: HttpSend = async (
  req: OutgoingRequest,
  timeoutMs: number,
): Promise<HttpResult> => {
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text().catch(() => '');
    return {
      kind: 'response',
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      bodyExcerpt: text.slice(0, RESPONSE_READ_CHARS),
      contentType: res.headers.get('content-type'),
    };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { kind: 'network', error: err.cause?.code ?? err.name ?? String(e) };
  }
};
