import type { EventSource } from '../domain/event.js';

/**
 * How long a source counts as sending an event name: a site that stopped its tag a week ago
 * sends no more browser copies to wait for.
 */
export const COVERAGE_MS = 7 * 86_400_000;

/** The two senders whose copies the merge window waits for (`/p` is the browser's too). */
type Side = 'browser' | 'server';

function sideOf(source: EventSource): Side {
  return source === 'server' ? 'server' : 'browser';
}

/**
 * Which event names each environment receives from the browser and from the server — Meta's
 * "event coverage" in Events Manager. The merge window's default (`auto`, DESIGN §7 as
 * refined in docs/delivery.md) holds a conversion only when the other side also sends that
 * event name: a shop that sends `Purchase` from its server alone has no browser copy to wait
 * for, and its conversions go out at once. In memory per process, seeded from the last day of
 * stored events at start, then learned from every batch.
 */
export class CopySources {
  private readonly lastSeen = new Map<string, number>();

  private static key(env_id: string, event_name: string, side: Side): string {
    return `${env_id}\u0000${event_name}\u0000${side}`;
  }

  note(env_id: string, event_name: string, source: EventSource, atMs: number): void {
    const k = CopySources.key(env_id, event_name, sideOf(source));
    if ((this.lastSeen.get(k) ?? -Infinity) < atMs) this.lastSeen.set(k, atMs);
  }

  /** Whether a copy of this event may still come from the side that did not send this one. */
  expectsOtherCopy(
    env_id: string,
    event_name: string,
    source: EventSource,
    nowMs: number,
  ): boolean {
    const other: Side = sideOf(source) === 'server' ? 'browser' : 'server';
    const at = this.lastSeen.get(CopySources.key(env_id, event_name, other));
    return at !== undefined && nowMs - at <= COVERAGE_MS;
  }
}

/** What the store tells of recent sources (Store.eventSourcesSince). */
interface SourceHistory {
  eventSourcesSince(
    since_ms: number,
  ): Promise<Array<{ env_id: string; event_name: string; source: string; last_ms: number }>>;
}

/** Seeding reads one day back: a restart need not forget that the tag sends `Purchase`. */
const SEED_MS = 86_400_000;

/** A CopySources that starts with what the store received in the last day. */
export async function seededCopySources(store: SourceHistory, nowMs: number): Promise<CopySources> {
  const copies = new CopySources();
  for (const r of await store.eventSourcesSince(nowMs - SEED_MS))
    if (r.source === 'tag' || r.source === 'server' || r.source === 'pixel')
      copies.note(r.env_id, r.event_name, r.source, r.last_ms);
  return copies;
}
