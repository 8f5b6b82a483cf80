/** The window failures are counted in. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** The first lockout; each next one, while the IP keeps failing, is twice as long. */
const FIRST_LOCKOUT_MS = 60_000;
const MAX_LOCKOUT_MS = 3_600_000;
/** A client that has not been locked out for this long starts again from the first lockout. */
const STRIKE_MEMORY_MS = 6 * 3_600_000;
/** Client IPs tracked at once (least recently failed forgotten first). */
const MAX_TRACKED_IPS = 50_000;

interface FailureRecord {
  failures: number;
  windowStartMs: number;
  /** Lockouts so far; the next lasts FIRST_LOCKOUT_MS × 2^strikes. */
  strikes: number;
  lockedUntilMs: number;
}

/**
 * Failed authentications per client IP (issue 18): over `maxPerWindow` failures in a minute
 * the IP is locked out of authenticating for a minute, then 2, 4, … up to an hour while it
 * keeps failing. During a lockout no credential from that IP is checked at all, so guessing
 * cannot go on at the rate limit's pace, and a right guess is not told apart from a wrong one.
 */
export class AuthFailures {
  private readonly ips = new Map<string, FailureRecord>();

  constructor(
    private readonly maxPerWindow: number,
    private readonly nowMs: () => number,
  ) {}

  /** Counts one failed authentication from `ip`; answers whether it now is locked out. */
  fail(ip: string): boolean {
    if (this.maxPerWindow <= 0) return false;
    const now = this.nowMs();
    let r = this.ips.get(ip);
    if (r) this.ips.delete(ip);
    else if (this.ips.size >= MAX_TRACKED_IPS) {
      const oldest = this.ips.keys().next().value;
      if (oldest !== undefined) this.ips.delete(oldest);
    }
    r ??= { failures: 0, windowStartMs: now, strikes: 0, lockedUntilMs: 0 };
    // Re-inserted, so the Map's order is least recently failed first.
    this.ips.set(ip, r);
    if (r.lockedUntilMs > now) return true;
    if (r.strikes > 0 && now - r.lockedUntilMs > STRIKE_MEMORY_MS) r.strikes = 0;
    if (r.windowStartMs + AUTH_FAILURE_WINDOW_MS <= now) {
      r.failures = 0;
      r.windowStartMs = now;
    }
    r.failures++;
    if (r.failures < this.maxPerWindow) return false;
    r.lockedUntilMs = now + Math.min(MAX_LOCKOUT_MS, FIRST_LOCKOUT_MS * 2 ** r.strikes);
    r.strikes++;
    r.failures = 0;
    r.windowStartMs = now;
    return true;
  }

  /** How long `ip` is still locked out, in ms; 0 when it may authenticate. */
  lockedForMs(ip: string): number {
    const r = this.ips.get(ip);
    return r ? Math.max(0, r.lockedUntilMs - this.nowMs()) : 0;
  }
}
