import type { EnvironmentConfig } from '../../domain/config-types.js';
import { constantTimeEqual } from '../../domain/constant-time.js';

/** A presented secret against a known one, in constant time; an empty known one never matches. */
export function secretEquals(given: string, known: string): boolean {
  return constantTimeEqual(given, known) && known.length > 0;
}

/** True when `given` is any of `known`; every candidate is compared, match or not. */
export function anySecretEquals(given: string, known: readonly string[]): boolean {
  let found = false;
  for (const k of known) found = secretEquals(given, k) || found;
  return found;
}

/**
 * The environment a write key belongs to (current or previous key, so keys rotate with two
 * valid at once), comparing against every key of every environment in constant time.
 */
export function environmentForKey(
  envs: readonly EnvironmentConfig[],
  key: string,
): EnvironmentConfig | undefined {
  let match: EnvironmentConfig | undefined;
  for (const e of envs) {
    if (anySecretEquals(key, [e.write_key, ...e.previous_write_keys])) match ??= e;
  }
  return match;
}

/** The Bearer credential of a request's Authorization header, or ''. */
export function bearer(authorization: string | undefined): string {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() ?? '';
}

/**
 * The key a request presents: the Bearer credential, or the user name of HTTP Basic (how
 * Segment's libraries send the write key); '' without either.
 */
export function credentialOf(authorization: string | undefined): string {
  const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (basic) return Buffer.from(basic, 'base64').toString('utf8').split(':')[0] ?? '';
  return bearer(authorization);
}
