import type pg from 'pg';

/**
 * Named statements at most: PostgreSQL keeps each one per connection until it closes, so the
 * set must stay bounded; texts beyond it run unnamed as before.
 */
const MAX_PREPARED_TEXTS = 200;

/**
 * The SQL texts to run as named (prepared) statements. node-postgres sends every other query
 * unnamed, which PostgreSQL parses and plans anew on each run; the ingest path runs the same
 * few texts thousands of times a second (bench/RESULTS-postgres.md), so it names them: each
 * connection parses a text once and may reuse its plan.
 */
export class PreparedTexts {
  private readonly names = new Map<string, string>();

  /** Asks for `text` to run prepared from now on (ignored once the set is full). */
  add(text: string): void {
    if (this.names.has(text) || this.names.size >= MAX_PREPARED_TEXTS) return;
    this.names.set(text, `pt_${this.names.size}`);
  }

  nameOf(text: string): string | undefined {
    return this.names.get(text);
  }
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Makes `client` run the texts of `texts` as named statements. Kysely calls
 * `client.query(text, values)`; a known text goes as `{name, text, values}` instead, which
 * node-postgres parses once per connection and then only binds.
 */
export function prepareKnownTexts(client: pg.PoolClient, texts: PreparedTexts): void {
  const query = client.query.bind(client) as QueryFn;
  (client as unknown as { query: QueryFn }).query = (...args: unknown[]) => {
    const [text, values] = args;
    const name = typeof text === 'string' && Array.isArray(values) ? texts.nameOf(text) : undefined;
    if (name === undefined) return query(...args);
    return query({ name, text, values }, ...args.slice(2));
  };
}
