import { CompiledQuery, type Kysely } from 'kysely';
import type { Dialect } from '../migrations/define.js';
import type { PreparedTexts } from './prepared-statements.js';

/**
 * Runs one statement synchronously on the connection an ingest transaction holds, and gives
 * its rows (SQLite: better-sqlite3's prepared statement, see open-sqlite.ts).
 */
export interface DirectRun {
  /** The statement's rows (none for a statement that returns none). */
  rows(text: string, params: readonly unknown[]): unknown[];
  /** The number of rows a writing statement changed. */
  changes(text: string, params: readonly unknown[]): number;
  /** A reading statement's rows as arrays of values, in the order it selects them. */
  arrays(text: string, params: readonly unknown[]): unknown[][];
  /** A reading statement's first column, a value a row. */
  column(text: string, params: readonly unknown[]): unknown[];
}

/**
 * The ingest path's statements as fixed SQL text. Building and compiling them with Kysely's
 * query builder cost more CPU per event than SQLite's own work (profile of POST /v1/events
 * in batches of 100: a third of the busy time in kysely's builder and compiler); fixed text
 * also lets SQLite reuse its prepared statement (see open-sqlite.ts). Written with `?`
 * placeholders, turned into `$n` once per text for PostgreSQL, where they run as named
 * statements when `prepared` is given.
 */
export class IngestStatements {
  private readonly texts = new Map<string, string>();

  constructor(
    readonly dialect: Dialect,
    private readonly prepared?: PreparedTexts,
    private readonly direct?: DirectRun,
  ) {}

  /** True when PostgreSQL keeps each text as a named statement, with its plans, per connection. */
  get named(): boolean {
    return this.dialect === 'postgres' && this.prepared !== undefined;
  }

  /**
   * Names `texts` before any other: the set of names is bounded, and a text first run once it
   * is full goes unnamed. An ingest transaction runs generic plans (set-wise-ingest.ts), which
   * an unnamed statement makes anew on every run: over every day partition, for a read of the
   * touches or events.
   */
  reserve(texts: readonly string[]): void {
    for (const text of texts) this.forDialect(text);
  }

  /**
   * Runs `text` (with `?` placeholders) with `params` on `db` and returns its rows. `db` is
   * the ingest transaction; with a `direct` runner (SQLite's one connection, which that
   * transaction holds) the statement skips Kysely's executor: its connection provider,
   * plugins and promise chain cost more per statement than SQLite's own work on the hot path.
   */
  run<R>(db: Kysely<unknown>, text: string, params: readonly unknown[]): Promise<R[]> {
    if (this.direct) {
      try {
        return Promise.resolve(this.direct.rows(text, params) as R[]);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return db
      .executeQuery<R>(CompiledQuery.raw(this.forDialect(text), [...params]))
      .then((r) => r.rows as R[]);
  }

  /**
   * The rows of a reading statement as arrays of values in its column order, where the
   * connection can give them so (SQLite), else null (run it with `run`). A row as an object
   * cost twice what its values cost: a Purchase from a busy address reads 220 touches, a
   * fifth of its CPU time in making their objects (issue 22).
   */
  arrays(text: string, params: readonly unknown[]): unknown[][] | null {
    return this.direct ? this.direct.arrays(text, params) : null;
  }

  /** The first column of a reading statement's rows, where arrays() gives rows, else null. */
  column(text: string, params: readonly unknown[]): unknown[] | null {
    return this.direct ? this.direct.column(text, params) : null;
  }

  /** Runs a writing statement and gives the number of rows it changed. */
  async changes(db: Kysely<unknown>, text: string, params: readonly unknown[]): Promise<number> {
    if (this.direct) return this.direct.changes(text, params);
    const r = await db.executeQuery(CompiledQuery.raw(this.forDialect(text), [...params]));
    return Number(r.numAffectedRows ?? 0);
  }

  private forDialect(text: string): string {
    if (this.dialect !== 'postgres') return text;
    let out = this.texts.get(text);
    if (out === undefined) {
      out = numberedPlaceholders(text);
      this.texts.set(text, out);
      this.prepared?.add(out);
    }
    return out;
  }
}

/** A text with `?` placeholders as PostgreSQL takes it: `$1`, `$2`… in order. */
export function numberedPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/**
 * Runs a fixed text (with `?` placeholders) through Kysely's executor: its connection and
 * transaction, without building or compiling a query. For statements outside an ingest
 * transaction, which must wait their turn for SQLite's one connection as any query does.
 */
export function runText<R>(
  db: Kysely<unknown>,
  dialect: Dialect,
  text: string,
  params: readonly unknown[],
): Promise<R[]> {
  const sql = dialect === 'postgres' ? numberedOnce(text) : text;
  return db.executeQuery<R>(CompiledQuery.raw(sql, [...params])).then((r) => r.rows as R[]);
}

/** numberedPlaceholders, kept per text: runText's texts are few (textsByLength, FINISH…). */
const numbered = new Map<string, string>();
function numberedOnce(text: string): string {
  let out = numbered.get(text);
  if (out === undefined) {
    out = numberedPlaceholders(text);
    // Bounded: a rare long list's text is numbered again rather than kept for ever.
    if (numbered.size < MAX_NUMBERED_TEXTS) numbered.set(text, out);
  }
  return out;
}
const MAX_NUMBERED_TEXTS = 256;

/** A list's length past which its text is made each time, not kept. */
const MAX_KEPT_LENGTH = 32;

/**
 * Texts made once per list length, for statements whose number of values varies (a few
 * keys of an event, the ids of a delivery batch): a text built per call costs more than the
 * statement, and SQLite reuses its prepared statement for a text it has seen.
 */
export function textsByLength(make: (n: number) => string): (n: number) => string {
  const texts: string[] = [];
  return (n) => {
    const kept = texts[n];
    if (kept !== undefined) return kept;
    const text = make(n);
    if (n <= MAX_KEPT_LENGTH) texts[n] = text;
    return text;
  };
}

/** `(?, ?, …)` for `n` values. */
export function placeholders(n: number): string {
  return `(${Array.from({ length: n }, () => '?').join(', ')})`;
}

/** `"a", "b", …`: column names quoted for a statement's text. */
export function quoted(columns: readonly string[]): string {
  return columns.map((c) => `"${c}"`).join(', ');
}

/** `INSERT INTO table (columns…) VALUES (?, …)` for the columns of a row object. */
export function insertText(table: string, columns: readonly string[]): string {
  return `insert into "${table}" (${quoted(columns)}) values ${placeholders(columns.length)}`;
}
