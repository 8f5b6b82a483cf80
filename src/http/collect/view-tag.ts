import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ServedAsset, servedAsset } from '../served-asset.js';
import type { Services } from '../services.js';

/** v.js and v.html are the same for every impression: browsers and CDNs keep them an hour. */
const CACHE = 'public, max-age=3600';

/**
 * The iframe form of the viewability tag: a blank page whose only content is v.js, which
 * reads the ids from this page's own query and measures the frame itself. Its CSP lets it
 * run that one script and send its signals to this origin, nothing else.
 */
export function viewFrame(js: Buffer): { html: ServedAsset; csp: string } {
  const code = js.toString('utf8').replaceAll('</', '<\\/');
  const hash = createHash('sha256').update(code).digest('base64');
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>ad</title>' +
    '<style>html,body{margin:0;width:100%;height:100%;overflow:hidden}</style></head>' +
    `<body><script>${code}</script></body></html>`;
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${hash}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self'",
  ].join('; ');
  return { html: servedAsset(Buffer.from(html)), csp };
}

function send(req: FastifyRequest, reply: FastifyReply, a: ServedAsset, type: string) {
  reply.header('content-type', type);
  reply.header('cache-control', CACHE);
  reply.header('etag', a.etag);
  reply.header('vary', 'Accept-Encoding');
  if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
  if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
    reply.header('content-encoding', 'gzip');
    return reply.send(a.gzip);
  }
  return reply.send(a.body);
}

const NOT_BUILT = { error: { code: 'tag_not_built', message: 'run npm run build' } };

/** `GET /v.js` (the viewability tag) and `GET /v.html` (its iframe form). */
export function viewTagRoutes(app: FastifyInstance, s: Services): void {
  let frame: { js: Buffer; html: ServedAsset; csp: string } | null = null;
  app.get(
    '/v.js',
    {
      schema: {
        summary: 'the viewability tag (JavaScript, under 1.5 KB gzipped)',
        description:
          'For ads: `<script src="…/v.js" data-env data-dest data-imp data-campaign … async>`, ' +
          'or the same ids in its query. gzip, ETag, cacheable 1 h; 503 when not built.',
      },
    },
    async (req, reply) => {
      if (!s.viewTag) return reply.status(503).send(NOT_BUILT);
      reply.header('access-control-allow-origin', '*');
      return send(req, reply, s.viewTag, 'application/javascript; charset=utf-8');
    },
  );
  app.get(
    '/v.html',
    {
      schema: {
        summary: 'the viewability tag as an iframe (HTML)',
        description:
          'For ad servers that take only an iframe: `<iframe src="…/v.html?env_id=…&dest_id=…' +
          '&imp_id=…" width=… height=…>` sized as the ad; it measures the frame. Cacheable 1 h.',
      },
    },
    async (req, reply) => {
      const js = s.viewTag?.body;
      if (!js) return reply.status(503).send(NOT_BUILT);
      if (frame?.js !== js) frame = { js, ...viewFrame(js) };
      reply.header('content-security-policy', frame.csp);
      return send(req, reply, frame.html, 'text/html; charset=utf-8');
    },
  );
}
