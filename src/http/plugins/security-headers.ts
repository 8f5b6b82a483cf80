import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The dashboard runs with the admin's session: it may only load its own scripts and styles,
 * never be framed, and never leak its URLs in a Referer.
 */
const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** On every answer: browsers must take the content type as given. */
export const NOSNIFF = { name: 'x-content-type-options', value: 'nosniff' } as const;

/**
 * The path a request was routed by: its route's pattern, or for a request no route took (a
 * 404, a malformed escape), its path with the escapes of ASCII characters decoded, which is
 * all the prefixes below need. The raw URL is not it: `/%61pi/stats` is routed to
 * `/api/stats`, and must get the admin API's headers.
 */
function routedPath(req: FastifyRequest): string {
  return (
    req.routeOptions.url ??
    req.url
      .split('?', 1)[0]
      .replace(/%[0-7][0-9A-Fa-f]/g, (e) => String.fromCharCode(Number.parseInt(e.slice(1), 16)))
  );
}

/** Security headers on the dashboard (`/ui`) and the admin API; nosniff everywhere. */
export function installSecurityHeaders(app: FastifyInstance): void {
  // Callback hooks, here and on every request's path: an async hook costs each request a
  // promise and a microtask turn, and these never wait for anything.
  app.addHook('onSend', (req, reply, payload, done) => {
    setSecurityHeaders(req, reply);
    done(null, payload);
  });
}

/**
 * Sets the security headers of a request's answer; for answers no hook sees (a URL the
 * router cannot decode).
 */
export function setSecurityHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.header(NOSNIFF.name, NOSNIFF.value);
  const path = routedPath(req);
  if (!path.startsWith('/ui') && !path.startsWith('/api/')) return;
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  if (path.startsWith('/ui')) reply.header('content-security-policy', DASHBOARD_CSP);
  else reply.header('cache-control', 'no-store');
  if (req.protocol === 'https')
    reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
}
