import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { constantTimeEqual } from '../../domain/constant-time.js';

/** Decoded Basic headers kept (credentialOf): a few keys in use, cleared when full. */
const MAX_BASIC_USERS = 256;

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

/** `crypto.hash`, from Node 20.12 on (package.json allows any Node 20). */
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

/**
 * The SHA-256 of a presented secret: what is compared with the known ones' digests. The
 * one-shot `crypto.hash` costs about half of a `createHash` object (1.9 against 3.4 µs).
 */
export function secretDigest(given: string): Buffer {
  return oneShot ? oneShot('sha256', given, 'buffer') : createHash('sha256').update(given).digest();
}

/**
 * Known secrets (write keys, admin tokens) hashed once, each with what it stands for. A
 * presented secret is hashed once and compared with every digest in constant time, as
 * constantTimeEqual compares two: hashing each known secret again on every request cost a
 * server's single-event request more than its JSON parsing.
 */
export class KnownSecrets<T> {
  private readonly entries: ReadonlyArray<{ digest: Buffer; value: T }>;

  constructor(secrets: Iterable<readonly [string, T]>) {
    const entries: Array<{ digest: Buffer; value: T }> = [];
    // An empty known secret never matches (secretEquals).
    for (const [secret, value] of secrets)
      if (secret.length > 0) entries.push({ digest: secretDigest(secret), value });
    this.entries = entries;
  }

  /** What `given` (or its digest) stands for; every entry is compared, match or not. */
  match(given: string | Buffer): T | undefined {
    const digest = typeof given === 'string' ? secretDigest(given) : given;
    let found: T | undefined;
    for (const e of this.entries) if (timingSafeEqual(digest, e.digest)) found ??= e.value;
    return found;
  }
}

/** Each config snapshot's write keys, hashed once (snapshots are never changed in place). */
const writeKeysOf = new WeakMap<readonly EnvironmentConfig[], KnownSecrets<EnvironmentConfig>>();

/**
 * The environment a write key belongs to (current or previous key, so keys rotate with two
 * valid at once), comparing against every key of every environment in constant time.
 */
export function environmentForKey(
  envs: readonly EnvironmentConfig[],
  key: string | Buffer,
): EnvironmentConfig | undefined {
  let known = writeKeysOf.get(envs);
  if (!known) {
    known = new KnownSecrets(
      envs.flatMap((e) => [e.write_key, ...e.previous_write_keys].map((k) => [k, e] as const)),
    );
    writeKeysOf.set(envs, known);
  }
  return known.match(key);
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
  if (!basic) return bearer(authorization);
  // Decoded once per header: a server library sends the same one on every call, and the
  // base64 decode and split were about 1.4 µs of each (issue 22).
  let user = basicUsers.get(basic);
  if (user === undefined) {
    user = Buffer.from(basic, 'base64').toString('utf8').split(':')[0] ?? '';
    // Bounded: headers that open nothing must not grow it without end.
    if (basicUsers.size >= MAX_BASIC_USERS) basicUsers.clear();
    basicUsers.set(basic, user);
  }
  return user;
}
const basicUsers = new Map<string, string>();
