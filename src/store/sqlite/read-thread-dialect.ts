import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
} from 'kysely';
import { LiteralLimitCompiler } from './literal-limits.js';
import type { ReadThread } from './read-thread.js';

/** The one connection: every query goes to the thread, which runs them one at a time. */
class ReadThreadConnection implements DatabaseConnection {
  constructor(private readonly thread: ReadThread) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const rows = await this.thread.query(compiled.sql, compiled.parameters);
    return { rows: rows as R[] };
  }

  // biome-ignore lint/correctness/useYield: refuses before any row, as the type requires a generator
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the read thread does not stream; read a page at a time');
  }
}

/** Reads only: a transaction (a write, or reads that must agree) is the main connection's. */
class ReadThreadDriver implements Driver {
  private readonly connection: ReadThreadConnection;

  constructor(private readonly thread: ReadThread) {
    this.connection = new ReadThreadConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }

  async beginTransaction(): Promise<void> {
    throw new Error('the read thread runs no transactions');
  }

  async commitTransaction(): Promise<void> {}

  async rollbackTransaction(): Promise<void> {}

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    await this.thread.close();
  }
}

/**
 * Kysely over a ReadThread: the same SQL as the main connection's (SQLite's adapter and
 * compiler), its queries run on the thread. Only the store's reads are given it.
 */
export function readThreadDialect(thread: ReadThread): Dialect {
  return {
    createAdapter: (): DialectAdapter => new SqliteAdapter(),
    createDriver: (): Driver => new ReadThreadDriver(thread),
    createQueryCompiler: (): QueryCompiler => new LiteralLimitCompiler(),
    createIntrospector: (db: Kysely<unknown>): DatabaseIntrospector => new SqliteIntrospector(db),
  };
}
