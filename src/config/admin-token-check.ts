import type { AppConfig } from '../domain/config-types.js';

/** An admin token shorter than this is guessable (openssl rand -base64 24 gives 32). */
export const MIN_ADMIN_TOKEN_CHARS = 16;
/** Tokens printed in the README and the docs, which anyone may try first. */
const EXAMPLE_TOKENS = new Set(['change-me', 'changeme', 'admin', 'secret', 'password']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

/** Whether the server listens on loopback only (`HOST` 127.0.0.1, ::1 or localhost). */
export function listensOnLoopbackOnly(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/** Why an admin token is weak, or null when it is not. */
export function adminTokenWeakness(token: string): string | null {
  if (EXAMPLE_TOKENS.has(token.toLowerCase())) return 'is an example value from the docs';
  if (token.length < MIN_ADMIN_TOKEN_CHARS)
    return `is shorter than ${MIN_ADMIN_TOKEN_CHARS} characters`;
  return null;
}

/**
 * What start-up says about the admin tokens (issue 18): beyond loopback a weak one is
 * refused, since anyone who can reach the port can guess it; on loopback (tests, a first
 * try) it is only warned about.
 */
export function adminTokenVerdict(
  config: Pick<AppConfig, 'admin_token' | 'previous_admin_tokens' | 'host'>,
): { refuse: string | null; warn: string | null } {
  // Named in words: the log's redaction masks anything after `admin_token`.
  const tokens = [
    ['the admin token', config.admin_token],
    ...config.previous_admin_tokens.map((t, i) => [`previous admin token ${i + 1}`, t]),
  ];
  const weak = tokens.flatMap(([field, token]) => {
    const why = adminTokenWeakness(token);
    return why ? [`${field} ${why}`] : [];
  });
  if (weak.length === 0) return { refuse: null, warn: null };
  const advice = `use ${MIN_ADMIN_TOKEN_CHARS}+ random characters (openssl rand -base64 24)`;
  if (listensOnLoopbackOnly(config.host))
    return { refuse: null, warn: `${weak.join('; ')}: fine on loopback only; ${advice}` };
  return {
    refuse:
      `refusing to listen on ${config.host} with a weak admin token: ${weak.join('; ')}. ` +
      `${advice}, or set HOST=127.0.0.1 to try pixeltrail locally`,
    warn: null,
  };
}
