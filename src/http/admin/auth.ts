import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { requireAdmin } from './session.js';

/** Admin API routes anyone may call: the login that exchanges the token for a session. */
const OPEN_ADMIN_ROUTES = new Set(['/api/session']);

/** Whether a matched route is part of the admin API (judged by its pattern, not the raw URL). */
export function isAdminRoute(route: string | undefined): boolean {
  return route !== undefined && route.startsWith('/api/') && !OPEN_ADMIN_ROUTES.has(route);
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
