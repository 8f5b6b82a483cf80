import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { FieldError } from '../domain/validation-error.js';
import type { IngestRefused } from '../ingest/ingest-pipeline.js';
import { GIF_HEADERS, TRANSPARENT_GIF } from './collect/gif.js';

/** Routes that answer an image whatever happens: an `<img>` must never get a JSON page. */
const IMAGE_ROUTES = new Set(['/i', '/p']);

/** An expected HTTP failure with a stable code, rendered as `{error:{code,message}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldError[],
    /** Seconds for `Retry-After`: the request may be sent again as it was, after that. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** Retry-After (seconds) when the ingest queue is full, and when the store cannot commit. */
const RETRY_AFTER_BUSY_S = 1;
const RETRY_AFTER_STORE_S = 2;

/**
 * The one answer to events the pipeline did not take (every JSON route that ingests):
 * 503 with Retry-After; nothing of the request was committed, so the sender retries it
 * whole. The pixels answer their GIF whatever happens.
 */
export function refusalError(refused: IngestRefused): HttpError {
  const busy = refused.reason !== 'store_unavailable';
  return busy
    ? new HttpError(
        503,
        'overloaded',
        'too many events are waiting to be stored; retry after the Retry-After delay',
        undefined,
        RETRY_AFTER_BUSY_S,
      )
    : new HttpError(
        503,
        'store_unavailable',
        'events could not be stored; retry after the Retry-After delay',
        undefined,
        RETRY_AFTER_STORE_S,
      );
}

/** Sets an HttpError's status (and Retry-After) on a reply that sends a body of its own. */
export function replyStatus(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS));
  return reply.status(err.status);
}

/** The JSON body of an HttpError's answer (the error handler's, and the fast path's). */
export function httpErrorBody(err: HttpError): Record<string, unknown> {
  const body: Record<string, unknown> = { error: { code: err.code, message: err.message } };
  if (err.fields) body.errors = err.fields.map((f) => ({ index: null, ...f }));
  return body;
}

/**
 * An error's HTTP status: Fastify's errors carry `statusCode`, ours (HttpError, the rate
 * limiter's among them) `status`. Scoped error handlers that read only one answered a
 * limited request as a failure (the beacon's, the view signal's, the postbacks').
 */
export function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const e = err as { statusCode?: number; status?: number } | null;
  return e?.statusCode ?? e?.status ?? 500;
}

/** The body of a 500: what failed is logged, never told to the client. */
export const INTERNAL_ERROR_BODY = { error: { code: 'internal', message: 'internal error' } };

/** One place that turns every error into JSON (STYLE rule 9). */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (IMAGE_ROUTES.has(req.url.split('?')[0])) {
      const status = errorStatus(err);
      if (status >= 500) req.log.error({ err }, 'pixel request failed');
      const code = err instanceof HttpError ? err.code : 'error';
      return reply
        .status(status)
        .headers(GIF_HEADERS)
        .header('x-pixeltrail-warnings', code)
        .send(TRANSPARENT_GIF);
    }
    if (err instanceof HttpError) {
      if (err.retryAfterS !== undefined) req.log.warn({ err }, 'request refused, to be retried');
      return replyStatus(reply, err).send(httpErrorBody(err));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const errors = fe.validation.map((v) => ({
        field:
          (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.') ||
          String(v.params?.missingProperty ?? ''),
        message: v.message ?? 'is invalid',
      }));
      return reply
        .status(400)
        .send({ error: { code: 'invalid_request', message: fe.message }, errors });
    }
    const status = fe.statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const code =
      fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'body_too_large'
        : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported_media_type'
          : status === 400
            ? 'bad_request'
            : status >= 500
              ? 'internal'
              : 'error';
    const message = status >= 500 ? 'internal error' : fe.message;
    return reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({
      error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` },
    });
  });
}
