import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import { chunks } from './chunks.js';
import { MAX_TOUCHES_PER_LOOKUP } from './ingest-columns.js';
import { distinctKeys, linkedFromRow } from './ingest-sql.js';
import { jsonParam, ROWS_PER_STATEMENT } from './json-param.js';
import { LinkBuffer } from './link-buffer.js';

// The identity links of an ingest transaction on PostgreSQL, read and written set-wise: a
// recompute's page of conversions reads its links in one statement, and a batch reads its
// strong keys' links in one and writes its links in one (LinkBuffer).

/**
 * Each read's linked browser ids, as LINKED_ANONYMOUS_IDS reads one event's: its keys in
 * order, each key's links in the primary key's order, at most MAX_TOUCHES_PER_LOOKUP rows a
 * read kept (a key sends that many at most, so a read of three keys up to three times what is
 * kept). Each key is looked up on its own along the primary key: its LIMIT keeps PostgreSQL
 * from making the lookups one join, which it planned as a scan of identity_links (a merge
 * join: 93 ms for a page of 200 keys, 26,667 links), or once a read (a lateral subquery a
 * read: 1.85 s). 12.5 ms.
 */
const LINKED_ANONYMOUS_IDS_MANY = `with k as materialized (select r.i, kk.n, r.env_id,
      kk.key_type, kk.key_value
    from json_to_recordset(?::json) as r(i int, env_id text, keys json),
    rows from (json_to_recordset(r.keys) as (key_type text, key_value text))
      with ordinality as kk(key_type, key_value, n))
  select k.i, x."key_type", x."anonymous_id" from k
  cross join lateral (select l."key_type", l."anonymous_id" from "identity_links" l
    where l."env_id" = k.env_id and l."key_type" = k.key_type and l."key_value" = k.key_value
    order by l."anonymous_id" limit ${MAX_TOUCHES_PER_LOOKUP}) x
  order by k.i, k.n, x."anonymous_id"`;

/**
 * Links noted by a batch (LinkBuffer), in the order given, as LINK_IDENTITY writes one
 * event's: a row new, or seen again. Each row once: PostgreSQL refuses a statement that
 * updates one row twice.
 */
const LINK_IDENTITIES = `insert into "identity_links" ("env_id", "key_type", "key_value", "anonymous_id", "last_seen")
  select "env_id", "key_type", "key_value", "anonymous_id", "last_seen"
  from json_populate_recordset(null::"identity_links", ?::json)
  on conflict ("env_id", "key_type", "key_value", "anonymous_id") do update set "last_seen" = excluded."last_seen"`;

/** Runs a statement in the transaction (PostgresSetWiseIngest.run: its settings first). */
type Run = <R>(text: string, params: readonly unknown[]) => Promise<R[]>;

export class SetWiseLinks {
  /** Set by buffer: the transaction's links, kept until they are needed. */
  private buffered?: LinkBuffer;

  constructor(private readonly run: Run) {}

  /** SetWiseIngest.findLinkedAnonymousIdsMany. */
  async findMany(
    reads: ReadonlyArray<{
      env_id: string;
      keys: readonly IdentityKey[];
    }>,
  ): Promise<LinkedAnonymousId[][]> {
    // Links noted and not yet written would be missed by the read (bufferLinks).
    await this.write();
    const out: LinkedAnonymousId[][] = reads.map(() => []);
    // Each pair once, as findLinkedAnonymousIds reads them; a read without keys reads nothing.
    const params = reads.flatMap(({ env_id, keys }, i) => {
      const pairs = distinctKeys(keys);
      return pairs.length === 0 ? [] : [{ i, env_id, keys: pairs }];
    });
    for (const part of chunks(params, ROWS_PER_STATEMENT)) {
      const rows = await this.run<{ i: number; key_type: string; anonymous_id: string }>(
        LINKED_ANONYMOUS_IDS_MANY,
        [jsonParam(part)],
      );
      for (const r of rows) {
        const linked = out[r.i];
        if (linked && linked.length < MAX_TOUCHES_PER_LOOKUP) linked.push(linkedFromRow(r));
      }
    }
    return out;
  }

  /** SetWiseIngest.bufferLinks. */
  async buffer(
    reads: ReadonlyArray<{ env_id: string; keys: readonly IdentityKey[] }>,
  ): Promise<void> {
    this.buffered ??= new LinkBuffer();
    const unread = this.buffered.unread(reads);
    if (unread.length === 0) return;
    const found = await this.findMany(unread.map(({ env_id, key }) => ({ env_id, keys: [key] })));
    for (const [i, { env_id, key }] of unread.entries())
      this.buffered.learn(env_id, key, found[i] ?? []);
  }

  /** linkIdentity, noted while links are buffered: false where they are not. */
  note(env_id: string, keys: readonly IdentityKey[], anonymous_id: string, seen: number): boolean {
    if (!this.buffered) return false;
    this.buffered.link(env_id, keys, anonymous_id, seen);
    return true;
  }

  /** findLinkedAnonymousIds of distinct keys from the buffer, where it knows the answer. */
  answer(env_id: string, pairs: readonly IdentityKey[]): LinkedAnonymousId[] | undefined {
    return this.buffered?.answer(env_id, pairs);
  }

  /** Writes the links noted and not yet written: before a read of the table, and the commit. */
  async write(): Promise<void> {
    const rows = this.buffered?.take() ?? [];
    for (const part of chunks(rows, ROWS_PER_STATEMENT))
      await this.run(LINK_IDENTITIES, [jsonParam(part)]);
  }
}
