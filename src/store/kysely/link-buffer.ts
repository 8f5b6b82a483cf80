import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import { wellFormed } from '../../domain/validation-fields.js';
import { MAX_TOUCHES_PER_LOOKUP } from './ingest-columns.js';

/** A row of identity_links as a link write leaves it. */
export interface LinkRow {
  env_id: string;
  key_type: string;
  key_value: string;
  anonymous_id: string;
  last_seen: number;
}

/**
 * A key's name here. NUL apart: an id may hold any other character (a newline would let two
 * links share a name), and PostgreSQL's text cannot hold NUL, so validation refuses it.
 */
const keyOf = (env_id: string, k: IdentityKey) =>
  `${env_id}\u0000${k.key_type}\u0000${wellFormed(k.key_value)}`;

/**
 * A batch's identity links kept in memory (issue 22): the links written, to be sent in one
 * statement, and for the keys read once at the batch's start, every browser id linked to
 * them since. A batch's events link their identities one after the other, and each reads
 * what those before it linked: on PostgreSQL each link read and write was a round trip of
 * its own, about three for a Purchase that carries a user id and an e-mail.
 *
 * A read is answered here only when the answer is exactly what the store would give once
 * the links are written: every key's links known in full (its read found fewer than the cap),
 * and all of them together within the cap, so the store's order, which decides what a
 * capped read keeps, never matters. Otherwise the caller writes the links and reads.
 *
 * Strings are kept as PostgreSQL stores them: a lone surrogate becomes U+FFFD in a text
 * parameter's UTF-8, so two ids that differ only there are one id in the store.
 */
export class LinkBuffer {
  /** Each key read in full: its linked browser ids. Null: it has more than the cap. */
  private readonly known = new Map<string, Set<string> | null>();
  /** Links to write, one per row of the table (the last write of a row wins, as in order). */
  private readonly pending = new Map<string, LinkRow>();

  /** The keys of `reads` not read yet, each once. */
  unread(
    reads: ReadonlyArray<{ env_id: string; keys: readonly IdentityKey[] }>,
  ): Array<{ env_id: string; key: IdentityKey }> {
    const out = new Map<string, { env_id: string; key: IdentityKey }>();
    for (const { env_id, keys } of reads)
      for (const key of keys) {
        const k = keyOf(env_id, key);
        if (!this.known.has(k) && !out.has(k)) out.set(k, { env_id, key });
      }
    return [...out.values()];
  }

  /**
   * What a read of one key found in the store (at most MAX_TOUCHES_PER_LOOKUP), read with no
   * link waiting here: a link waiting is not in the store yet, so the read would miss it.
   */
  learn(env_id: string, key: IdentityKey, found: readonly LinkedAnonymousId[]): void {
    if (this.pending.size > 0) throw new Error('a key read while links wait to be written');
    this.known.set(
      keyOf(env_id, key),
      found.length < MAX_TOUCHES_PER_LOOKUP ? new Set(found.map((l) => l.anonymous_id)) : null,
    );
  }

  /** linkIdentity: `keys` linked to `anonymous_id`, seen at `seen`. */
  link(env_id: string, keys: readonly IdentityKey[], anonymous_id: string, seen: number): void {
    const anon = wellFormed(anonymous_id);
    for (const key of keys) {
      const k = keyOf(env_id, key);
      this.pending.set(`${k}\u0000${anon}`, {
        env_id,
        key_type: key.key_type,
        key_value: wellFormed(key.key_value),
        anonymous_id: anon,
        last_seen: seen,
      });
      this.known.get(k)?.add(anon);
    }
  }

  /**
   * findLinkedAnonymousIds of these distinct keys as the store would answer it once the
   * links waiting are written (LINKED_ANONYMOUS_IDS: each key's links, in the keys' order),
   * or undefined where that answer would depend on the store's cap or on a key not read.
   * The same rows; within a key, not in the store's order (its collation's, which JavaScript
   * does not have): no reader depends on it, as each ranks a browser's keys itself.
   */
  answer(env_id: string, pairs: readonly IdentityKey[]): LinkedAnonymousId[] | undefined {
    const found: Array<[IdentityKey['key_type'], Set<string>]> = [];
    let n = 0;
    for (const key of pairs) {
      const set = this.known.get(keyOf(env_id, key));
      if (!set) return undefined;
      n += set.size;
      if (n > MAX_TOUCHES_PER_LOOKUP) return undefined;
      found.push([key.key_type, set]);
    }
    const out: LinkedAnonymousId[] = [];
    for (const [via, set] of found) for (const anonymous_id of set) out.push({ anonymous_id, via });
    return out;
  }

  /**
   * The links waiting, now to be written, sorted: two transactions that write rows they
   * share in one order each wait for the other rather than deadlock. A batch that writes
   * more than once (a read the buffer cannot answer writes what waits first) can still meet
   * another in the opposite order across its writes; the ingest's retry of a deadlock covers it.
   */
  take(): LinkRow[] {
    const rows = [...this.pending.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.pending.clear();
    return rows.map(([, row]) => row);
  }
}
