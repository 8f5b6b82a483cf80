import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { anySecretEquals, bearer, secretEquals } from '../request/key-check.js';
import type { Services } from '../services.js';
import { adminTokens, CSRF_HEADER, csrfToken, liveSession, type SessionDeps } from './session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Admin API routes anyone may call: the login that exchanges the token for a session. */
const OPEN_ADMIN_ROUTES = new Set(['/api/session']);

/** Whether a matched route is part of the admin API (judged by its pattern, not the raw URL). */
export function isAdminRoute(route: string | undefined): boolean {
  return !!route?.startsWith('/api/') && !OPEN_ADMIN_ROUTES.has(route);
}

/**
 * The one admin check of the whole app: every route under `/api/` takes the Bearer admin
 * token (current or previous), or the dashboard session with its CSRF token on writes
 * (admin-session.ts). A module adding admin routes adds no hook of its own, so none can be
 * left open or checked differently. The route's pattern decides, so any spelling of a path
 * that reaches an admin route is checked all the same. Installed on the instance the routes
 * are registered in, so the check comes after the rate limiter's: a wrong token is counted.
 */
export function installAdminAuth(routes: FastifyInstance, s: Services): void {
  const check = requireAdmin({ config: s.config, nowMs: s.nowMs, store: s.store });
  routes.addHook('onRoute', (route) => {
    if (!isAdminRoute(route.url)) return;
    const own = route.onRequest;
    route.onRequest = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), check];
  });
}

/**
 * The admin check of every `/api/*` call: a Bearer admin token (current or previous), or the
 * dashboard's session cookie — then state-changing calls must also carry the session's CSRF
 * token in `X-CSRF-Token`. Write keys are never admin credentials.
 */
export function requireAdmin(deps: SessionDeps) {
  const { config } = deps;
  return async (req: FastifyRequest): Promise<void> => {
    const token = bearer(req.headers.authorization);
    if (token) {
      if (anySecretEquals(token, adminTokens(config))) return;
      throw new HttpError(401, 'unauthorized', 'the admin token is not valid');
    }
    const session = await liveSession(deps, req);
    if (!session)
      throw new HttpError(
        401,
        'unauthorized',
        'the admin token is required: Authorization: Bearer <admin_token>',
      );
    if (SAFE_METHODS.has(req.method)) return;
    const csrf = req.headers[CSRF_HEADER];
    if (typeof csrf !== 'string' || !secretEquals(csrf, csrfToken(config, session.value)))
      throw new HttpError(403, 'csrf', `state-changing calls need the ${CSRF_HEADER} header`);
  };
}
