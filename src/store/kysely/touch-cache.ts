import type { Touch } from '../../domain/event.js';

/** Touches kept by TouchCache; a busy address's lookup reads at most ~220 (issue 22). */
export const MAX_CACHED_TOUCHES = 10_000;
/** Addresses TouchCache remembers having read whole; all are forgotten when one more comes. */
export const MAX_KNOWN_ADDRESSES = 10_000;

/**
 * Touches by row id, as read before. A touch row is never updated, and `touches.id` is
 * SQLite's AUTOINCREMENT (0001_initial) or PostgreSQL's sequence (0008_partitions): a
 * committed id never names another row, even after its row is deleted. So a lookup by IP
 * address (after the first, see knows) reads only the ids of its touches and takes the rows it
 * has read before from here: better-sqlite3 on Node 20 makes each value of a row with a V8
 * property store, ~0.13 µs a value, node-postgres parses each, and a Purchase from a busy
 * address read 220 rows of 15 values (issue 22). Only committed rows may be added: SQLite
 * gives an id inserted in a transaction that rolls back again (so neither KyselyIngestTx nor
 * PostgreSQL's set-wise reads add any in a transaction that wrote touches). The touches are
 * frozen: events share them. The server's hourly retention purge clears it, so touches another
 * process erased leave memory within the hour (store contract S02e: they are never read again
 * meanwhile).
 */
/** An address's touch ids in lookup order, split into the touches kept and the ids to read. */
export interface CachedIds {
  /** The ids of the touches not kept: their rows are to be read. */
  missing: number[];
  /** The touches in the ids' order, the missing ones from `read`; a row gone meanwhile is left out. */
  resolve(read: ReadonlyMap<number, Touch>): Touch[];
}

export class TouchCache {
  private readonly byId = new Map<number, Touch>();
  /** Addresses (environment and stored IP) whose lookup has filled the cache. */
  private readonly addresses = new Set<string>();

  constructor(private readonly max = MAX_CACHED_TOUCHES) {}

  get(id: number): Touch | undefined {
    return this.byId.get(id);
  }

  /** Keeps `touch` (frozen) under `id`; the oldest kept goes when full. */
  add(id: number, touch: Touch): Touch {
    if (this.byId.size >= this.max) {
      const oldest = this.byId.keys().next();
      if (!oldest.done) this.byId.delete(oldest.value);
    }
    if (touch.traffic_source) Object.freeze(touch.traffic_source);
    const kept = Object.freeze(touch);
    this.byId.set(id, kept);
    return kept;
  }

  /**
   * The touches of `ids` (in a lookup's order) that are kept, and the ids of the others; an id
   * already in `seen` (found by a stronger key) is skipped, and added to it otherwise. Taken now,
   * before the missing rows are added, which may push kept ones out. SQLite's and PostgreSQL's
   * reads by address both go through here.
   */
  take(ids: Iterable<number>, seen: Set<number>): CachedIds {
    const order: number[] = [];
    const kept: Array<Touch | undefined> = [];
    const missing: number[] = [];
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const touch = this.byId.get(id);
      if (touch === undefined) missing.push(id);
      order.push(id);
      kept.push(touch);
    }
    return {
      missing,
      resolve: (read) => {
        const out: Touch[] = [];
        for (let i = 0; i < order.length; i++) {
          const touch = kept[i] ?? read.get(order[i] as number);
          if (touch) out.push(touch);
        }
        return out;
      },
    };
  }

  /**
   * True when `address`'s touches were read whole since the cache was last cleared: its lookup
   * then reads the ids alone. The first lookup of an address finds none of its touches kept:
   * its rows are read at once, not after its ids (issue 22, 220 touches, cache emptied before
   * each lookup: ingest tx + lookup 821-936 -> 795-864 µs CPU, every pair of runs lower).
   */
  knows(address: string): boolean {
    return this.addresses.has(address);
  }

  /** Remembers that `address`'s touches were read whole (and added). */
  noteAddress(address: string): void {
    if (this.addresses.size >= MAX_KNOWN_ADDRESSES) this.addresses.clear();
    this.addresses.add(address);
  }

  /**
   * Forgets every touch: after this process's erasures and purges, so deleted rows do not
   * linger in memory (another process's leave them until pushed out; they are never read).
   */
  clear(): void {
    this.byId.clear();
    this.addresses.clear();
  }

  get size(): number {
    return this.byId.size;
  }
}
