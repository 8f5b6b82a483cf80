import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether two strings are equal, in time that depends on neither: both are hashed first, so
 * the content and the length of the known one do not leak through timing. The one
 * constant-time comparison of secrets, signatures and tokens.
 */
export function constantTimeEqual(given: string, known: string): boolean {
  return timingSafeEqual(digest(given), digest(known));
}
