import type { FastifyError, FastifyInstance } from 'fastify';
import type { FieldError } from '../domain/validation-error.js';
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
  ) {
    super(message);
  }
}

/** One place that turns every error into JSON (STYLE rule 9). */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (IMAGE_ROUTES.has(req.url.split('?')[0])) {
      const status =
        err instanceof HttpError ? err.status : ((err as FastifyError).statusCode ?? 500);
      if (status >= 500) req.log.error({ err }, 'pixel request failed');
      const code = err instanceof HttpError ? err.code : 'error';
      return reply
        .status(status)
        .headers(GIF_HEADERS)
        .header('x-pixeltrail-warnings', code)
        .send(TRANSPARENT_GIF);
    }
    if (err instanceof HttpError) {
      const body: Record<string, unknown> = { error: { code: err.code, message: err.message } };
      if (err.fields) body.errors = err.fields.map((f) => ({ index: null, ...f }));
      return reply.status(err.status).send(body);
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
