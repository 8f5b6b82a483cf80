import { requireAdmin } from './admin-session.js';
import type { Services } from './services.js';

/**
 * The admin check of the dashboard's API modules: the Bearer admin token (current or
 * previous), or the dashboard session with its CSRF token on writes (admin-session.ts).
 */
export function adminAuth(s: Services) {
  return requireAdmin(s.config, s.nowMs);
}
