import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Touch } from '../../domain/event.js';
import type { ImpressionView } from '../../domain/viewability.js';
import type { DirectRun } from '../kysely/ingest-statements.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import { LiteralLimitSqliteDialect } from './literal-limits.js';
import { ReadThread } from './read-thread.js';
import { readThreadDialect } from './read-thread-dialect.js';
import { TouchWriterThread } from './touch-writer-thread.js';
import { type CheckpointerOptions, WalCheckpointer } from './wal-checkpointer.js';

/** SQLite file name inside the data folder. */
export const SQLITE_FILE = 'pixeltrail.db';
/**
 * Un-checkpointed WAL frames (pages, 4 KiB) at which the checkpointer thread starts copying
 * them into the database file; past it, it copies what came in meanwhile again at once, until
 * a copy ends between two commits and the next one starts the WAL over (wal-checkpointer.ts).
 */
const CHECKPOINT_PAGES = 1_000;
/**
 * How often the checkpointer looks at the WAL; ~1,000 frames a tick at full load. Past
 * CHECKPOINT_PAGES its follow-up checkpoints come 1 ms apart instead.
 */
const CHECKPOINT_CHECK_MS = 200;
/**
 * The writers' own `wal_autocheckpoint`, kept as a backstop rather than off. A PASSIVE
 * checkpoint never waits for writers, so under writes without a pause the WAL started over
 * only when a copy happened to end between two commits; until the thread went again at once
 * past its threshold (issue 22), it grew until a commit crossed this and checkpointed itself
 * on the event loop: 40-65 ms every 3-5 s of single events at 64 connections, each commit's
 * answer behind it. Now the WAL starts over within a few seconds under that load, but not
 * surely: a reader on the WAL whenever a commit could start it over, or a disk whose syncs are
 * slower than the time between two commits, can still let it reach this. Higher means rarer
 * stalls and a larger -wal file (it keeps its largest size): single events at 64
 * connections, 15 s, fsync on the event loop 366-928 ms before issue 22 (autocheckpoint
 * 10,000), 57-290 ms with a 20,000 backstop, 10-106 ms with 50,000.
 * Should the thread die, the same keeps the WAL near 200 MB instead of growing until close,
 * and every read with it (the wal-index grows too).
 */
export const WAL_BACKSTOP_PAGES = 50_000;
/** Prepared statements kept; the hot path uses a few dozen distinct SQL texts. */
const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely asks better-sqlite3 to prepare every query anew (a quarter of the server API's
 * time in profiles); this hands back the prepared statement for SQL text seen before.
 */
function cachingStatements(sqlite: BetterSqlite3.Database) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  // Statements of their own: raw and pluck modes stay set on a statement, and Kysely shares
  // `cache`.
  const arrayCache = new Map<string, BetterSqlite3.Statement>();
  const columnCache = new Map<string, BetterSqlite3.Statement>();
  const inMode = (
    modal: Map<string, BetterSqlite3.Statement>,
    sql: string,
    set: (s: BetterSqlite3.Statement) => BetterSqlite3.Statement,
  ) => {
    let stmt = modal.get(sql);
    if (!stmt) {
      if (modal.size >= MAX_CACHED_STATEMENTS) modal.clear();
      stmt = set(sqlite.prepare(sql));
      modal.set(sql, stmt);
    }
    return stmt;
  };
  const prepare = (sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      stmt = sqlite.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  const database: SqliteDatabase = {
    close: () => sqlite.close(),
    prepare: (sql: string) => prepare(sql) as unknown as SqliteStatement,
  };
  /** The ingest transaction's fixed statements, run as Kysely's SQLite driver runs them. */
  const direct: DirectRun = {
    rows: (sql, params) => {
      const stmt = prepare(sql);
      if (stmt.reader) return stmt.all(params as unknown[]);
      stmt.run(params as unknown[]);
      return [];
    },
    changes: (sql, params) => prepare(sql).run(params as unknown[]).changes,
    arrays: (sql, params) =>
      inMode(arrayCache, sql, (s) => s.raw(true)).all(params as unknown[]) as unknown[][],
    column: (sql, params) =>
      inMode(columnCache, sql, (s) => s.pluck(true)).all(params as unknown[]),
  };
  return { database, direct };
}

/**
 * Opens (creating if needed) the embedded SQLite store. WAL lets readers (admin API, a
 * `replay` CLI) run beside the writer; `synchronous=NORMAL` in WAL mode loses nothing when
 * the process dies, only possibly the last commits on power loss. Checkpoints run on a thread
 * of their own (WalCheckpointer), in every process that opens the store: each keeps the WAL
 * bounded for its own commits, and two checkpointers share the file safely (PASSIVE ones skip
 * while the other holds the checkpoint lock). `checkpoint` overrides its thresholds (tests).
 */
export function openSqliteStore(
  dataDir: string,
  checkpoint: Partial<CheckpointerOptions> = {},
): KyselyStore {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE);
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  // Erased and purged rows are overwritten with zeros, not left readable in free pages.
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
  const checkpointer = new WalCheckpointer(file, {
    pages: CHECKPOINT_PAGES,
    intervalMs: CHECKPOINT_CHECK_MS,
    onError: (message) => process.stderr.write(`pixeltrail: ${message}\n`),
    ...checkpoint,
  });
  const { database, direct } = cachingStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new LiteralLimitSqliteDialect({ database }) });
  // Reports, counts and the admin lists, read beside the event loop (read-thread.ts).
  const reads = new ReadThread(file);
  const readDb = new Kysely<Database>({ dialect: readThreadDialect(reads) });
  // Started on first use, after migrations, and only by processes that record touches.
  let thread: TouchWriterThread | null = null;
  const touchWriter = {
    write: (t: readonly Touch[]) => {
      thread ??= new TouchWriterThread(file, WAL_BACKSTOP_PAGES);
      return thread.write(t);
    },
    writeViews: (v: readonly ImpressionView[]) => {
      thread ??= new TouchWriterThread(file, WAL_BACKSTOP_PAGES);
      return thread.writeViews(v);
    },
    // The store closes this before its own connection: the checkpointer's last checkpoint
    // runs off the event loop, and the main connection, closing last, checkpoints whatever
    // came after and removes the WAL.
    close: async () => {
      await reads.close();
      await thread?.close();
      await checkpointer.close();
    },
  };
  return new KyselyStore(db, 'sqlite', touchWriter, undefined, direct, readDb, checkpointer);
}
