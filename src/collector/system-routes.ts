import type { FastifyInstance } from 'fastify';
import type { Services } from './services.js';

/** Liveness, readiness, metrics and the tag. */
export function systemRoutes(app: FastifyInstance, s: Services): void {
  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (req, reply) => {
    try {
      await s.store.ping();
      // A store that answers reads may still refuse writes (disk full, read-only).
      if (s.pipeline.failing) throw new Error('the latest commit failed');
      return { ok: true, queued_writes: s.pipeline.pending };
    } catch (e) {
      req.log.warn({ err: e }, 'store not ready');
      return reply.status(503).send({
        ok: false,
        error: { code: 'store_unavailable', message: 'the store cannot commit' },
      });
    }
  });

  app.get('/metrics', async (_req, reply) => {
    s.metrics.queueDepth.set(s.pipeline.pending);
    reply.header('content-type', s.metrics.registry.contentType);
    return s.metrics.registry.metrics();
  });

  app.get('/t.js', async (req, reply) => {
    if (!s.tag)
      return reply
        .status(503)
        .send({ error: { code: 'tag_not_built', message: 'run npm run build' } });
    reply.header('content-type', 'application/javascript; charset=utf-8');
    reply.header('cache-control', 'public, max-age=300');
    reply.header('etag', s.tag.etag);
    reply.header('vary', 'Accept-Encoding');
    reply.header('access-control-allow-origin', '*');
    if (req.headers['if-none-match'] === s.tag.etag) return reply.status(304).send();
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      reply.header('content-encoding', 'gzip');
      return reply.send(s.tag.gzip);
    }
    return reply.send(s.tag.js);
  });
}
