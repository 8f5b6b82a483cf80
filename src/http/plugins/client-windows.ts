/** Requests one client made in its current window, and how long that window has left. */
export interface WindowCount {
  current: number;
  ttl: number;
}

interface Slot {
  current: number;
  startMs: number;
}

/**
 * Fixed-window request counts per client (IP or key digest), least recently seen evicted
 * beyond `maxClients`: the rate limiter's memory. It is @fastify/rate-limit's store (same
 * counting as its LocalStore) and the pixel fast path counts into the same windows, so a
 * client's pixel hits and API calls share one limit whichever HTTP path served them.
 */
export class ClientWindows {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly maxClients: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Counts one request of `key` in a window of `windowMs`. */
  hit(key: string, windowMs: number): WindowCount {
    const now = this.nowMs();
    let slot = this.slots.get(key);
    if (slot) this.slots.delete(key);
    else if (this.slots.size >= this.maxClients) {
      const oldest = this.slots.keys().next().value;
      if (oldest !== undefined) this.slots.delete(oldest);
    }
    if (!slot || slot.startMs + windowMs <= now) slot = { current: 1, startMs: now };
    else slot.current++;
    // Re-inserted, so the Map's order is least recently seen first.
    this.slots.set(key, slot);
    return { current: slot.current, ttl: windowMs - (now - slot.startMs) };
  }

  /** @fastify/rate-limit's store interface. */
  incr(key: string, cb: (e: Error | null, r?: WindowCount) => void, windowMs: number): void {
    cb(null, this.hit(key, windowMs));
  }

  /** Requests `key` made in its current window, counting nothing. */
  current(key: string, windowMs: number): WindowCount {
    const slot = this.slots.get(key);
    const now = this.nowMs();
    return slot && slot.startMs + windowMs > now
      ? { current: slot.current, ttl: windowMs - (now - slot.startMs) }
      : { current: 0, ttl: 0 };
  }

  /** A peek that counts nothing (@fastify/rate-limit's `increment: false`). */
  read(key: string, cb: (e: Error | null, r?: WindowCount) => void, windowMs: number): void {
    cb(null, this.current(key, windowMs));
  }

  /** A route with limits of its own counts apart (as LocalStore's child does). */
  child(): ClientWindows {
    return new ClientWindows(this.maxClients, this.nowMs);
  }
}
