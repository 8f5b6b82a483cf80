import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Statements the thread keeps prepared; reports and lists use a few dozen SQL texts. */
const MAX_CACHED_STATEMENTS = 200;

/**
 * The thread's code, plain JavaScript so it runs the same from the sources (tests) and from
 * dist/. It owns a connection of its own to the SQLite file, which refuses to write
 * (`query_only`), and runs one query at a time in the order they came. In WAL mode each query
 * reads the last commit made before it started, beside the writers
 * (https://www.sqlite.org/wal.html §2.2, "Concurrency").
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('query_only = ON');
db.pragma('busy_timeout = 5000');
const statements = new Map();
parentPort.on('message', (m) => {
  if (m.close) { db.close(); parentPort.postMessage({ closed: true }); return; }
  try {
    let st = statements.get(m.sql);
    if (!st) {
      st = db.prepare(m.sql);
      if (statements.size >= workerData.maxStatements) statements.clear();
      statements.set(m.sql, st);
    }
    if (!st.reader) throw new Error('the read thread runs queries that return rows only');
    const rows = st.all(m.params);
    // Whether a BLOB came back, looked for here rather than row by row on the event loop.
    let blobs = false;
    for (let i = 0; i < rows.length && !blobs; i++)
      for (const k in rows[i]) if (Buffer.isBuffer(rows[i][k])) { blobs = true; break; }
    parentPort.postMessage({ id: m.id, rows, blobs });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e), code: (e && e.code) || undefined });
  }
});
`;

type Row = Record<string, unknown>;

interface Waiting {
  resolve: (rows: Row[]) => void;
  reject: (e: Error) => void;
}

/** A query the thread could not run, with SQLite's error code (`SQLITE_BUSY`…) when it had one. */
export class ReadThreadError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ReadThreadError';
  }
}

/**
 * A value read as a BLOB comes back from the thread as a Uint8Array (structured clone drops
 * Buffer's prototype); the main connection gives a Buffer, so the thread's rows do too.
 */
function asBuffers(rows: Row[]): Row[] {
  for (const row of rows)
    for (const key in row) {
      const v = row[key];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v))
        row[key] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  return rows;
}

/**
 * Runs the store's long reads (reports, `/api/stats`, the admin lists and the debugger) on
 * a thread of its own, off the event loop. better-sqlite3 blocks the thread it runs on: a
 * 30-day report over 300,000 conversions held the event loop for 285-472 ms, and no pixel,
 * event or delivery was answered meanwhile (bench/RESULTS.md, "Reports beside ingest").
 * The thread starts with the first query and is ended by `close`; a thread that dies fails
 * the queries in flight and the next query starts another. While queries are in flight it
 * keeps the process alive, and while it closes; otherwise it lets the process exit.
 */
export class ReadThread {
  private worker: Worker | null = null;
  /** The queries in flight on `worker`: each thread answers (or fails) its own. */
  private waiting = new Map<number, Waiting>();
  private seq = 0;
  private closed: Promise<void> | null = null;

  constructor(private readonly file: string) {}

  /** The rows of one query (SQL with `?` parameters), read by the thread. */
  query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const worker = this.started();
    const waiting = this.waiting;
    const id = ++this.seq;
    return new Promise<Row[]>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      if (waiting.size === 1) worker.ref();
      worker.postMessage({ id, sql, params });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { file: this.file, driver, maxStatements: MAX_CACHED_STATEMENTS },
    });
    worker.unref();
    const waiting = new Map<number, Waiting>();
    worker.on(
      'message',
      (m: {
        id?: number;
        rows?: Row[];
        blobs?: boolean;
        error?: string;
        code?: string;
        closed?: boolean;
      }) => {
        if (m.closed) void worker.terminate();
        if (m.id === undefined) return;
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        // A close under way holds the process until the thread has ended (close refs it).
        if (waiting.size === 0 && !this.closed) worker.unref();
        if (m.error !== undefined) w?.reject(new ReadThreadError(m.error, m.code));
        else w?.resolve(m.blobs ? asBuffers(m.rows ?? []) : (m.rows ?? []));
      },
    );
    // `error` and then `exit` come for one thread: the first fails its queries, and a thread
    // started meanwhile keeps its own.
    const stopped = (e: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    };
    worker.on('error', (e) => stopped(new Error(`the read thread stopped: ${e.message}`)));
    worker.on('exit', () => stopped(new Error('the read thread exited')));
    this.worker = worker;
    this.waiting = waiting;
    return worker;
  }

  /** Lets the queries in flight finish, closes the thread's connection and ends the thread. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      const worker = this.worker;
      if (!worker) return resolve();
      worker.once('exit', () => resolve());
      worker.ref();
      // Messages are handled in order: the close comes after every query sent before it.
      worker.postMessage({ close: true });
    });
    return this.closed;
  }
}
