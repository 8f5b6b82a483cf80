import type { FastifyInstance } from 'fastify';

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

/** Security headers on the dashboard (`/ui`) and the admin API; nosniff everywhere. */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    reply.header(NOSNIFF.name, NOSNIFF.value);
    const path = req.url;
    if (!path.startsWith('/ui') && !path.startsWith('/api/')) return;
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    if (path.startsWith('/ui')) reply.header('content-security-policy', DASHBOARD_CSP);
    else reply.header('cache-control', 'no-store');
    if (req.protocol === 'https')
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
  });
}
