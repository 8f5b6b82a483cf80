import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';
import type { Services } from './services.js';

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'pt_admin';
/** Header the dashboard adds to every write, so a form on another site cannot forge one. */
export const UI_HEADER = 'x-pixeltrail-ui';
const SESSION_MAX_AGE_S = 12 * 3600;
const SESSION_RE = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([a-f0-9]{64})(?:;|$)`);

function same(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The cookie holds an HMAC of the admin token, not the token: stateless, and changing the
 * token ends every session.
 */
export function sessionValue(adminToken: string): string {
  return createHmac('sha256', adminToken).update('pixeltrail dashboard session').digest('hex');
}

/**
 * Admin authentication for `/api/*`: `Authorization: Bearer <admin_token>`, or the
 * dashboard's HttpOnly session cookie. The dashboard uses a cookie because EventSource (the
 * live debugger) cannot send headers, and an HttpOnly cookie is out of reach of page
 * scripts. Cookie-authenticated writes must also carry `X-Pixeltrail-UI` (a custom header
 * forces a CORS preflight, which other origins fail) on top of `SameSite=Strict`.
 */
export function adminAuth(s: Services) {
  const session = sessionValue(s.config.admin_token);
  return async (req: FastifyRequest) => {
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (token !== undefined && same(token, s.config.admin_token)) return;
    const cookie = SESSION_RE.exec(req.headers.cookie ?? '')?.[1];
    if (token === undefined && cookie && same(cookie, session)) {
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      if (!write || req.headers[UI_HEADER] === '1') return;
      throw new HttpError(403, 'forbidden', `dashboard writes need the ${UI_HEADER}: 1 header`);
    }
    throw new HttpError(
      401,
      'unauthorized',
      'the admin token is required: Authorization: Bearer <admin_token>',
    );
  };
}

const LoginBody = Type.Object({ token: Type.String({ minLength: 1 }) });

function cookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeS}; Path=/api; HttpOnly; SameSite=Strict${secure}`;
}

/**
 * `POST /api/session` logs the dashboard in with the admin token, `GET` says whether the
 * cookie is a live session, `DELETE` logs out.
 */
export function sessionRoutes(app: FastifyInstance, s: Services): void {
  const session = sessionValue(s.config.admin_token);
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/session',
    { schema: { body: LoginBody } },
    async (req, reply: FastifyReply) => {
      if (!same(req.body.token, s.config.admin_token)) {
        throw new HttpError(401, 'unauthorized', 'wrong admin token', [
          { field: 'token', message: 'does not match admin_token' },
        ]);
      }
      reply.header('set-cookie', cookie(req, session, SESSION_MAX_AGE_S));
      return { ok: true, expires_in: SESSION_MAX_AGE_S };
    },
  );
  app.get('/api/session', async (req) => ({
    authenticated: SESSION_RE.exec(req.headers.cookie ?? '')?.[1] === session,
  }));
  app.delete('/api/session', async (req, reply) => {
    reply.header('set-cookie', cookie(req, '', 0));
    return { ok: true };
  });
}
