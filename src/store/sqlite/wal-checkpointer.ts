import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { WalCheckpoint } from '../kysely/maintenance.js';

/** What one `PRAGMA wal_checkpoint` reported, in WAL frames (the store's own type). */
export type CheckpointResult = WalCheckpoint;

export interface CheckpointerOptions {
  /** Un-checkpointed WAL frames (pages) that start checkpointing. */
  readonly pages: number;
  /** How often the thread looks at the WAL. */
  readonly intervalMs: number;
  /** Each checkpoint the thread ran (tests, metrics). */
  readonly onCheckpoint?: (r: CheckpointResult) => void;
  /** A checkpoint that failed, or the thread dying; the writers' backstop then takes over. */
  readonly onError?: (message: string) => void;
}

/**
 * The thread's code, plain JavaScript so it runs the same from the sources (tests) and from
 * dist/. Every `intervalMs` it reads how far the WAL runs ahead of the database file and, past
 * `pages` frames (and then on every tick while the WAL is that long: see `due`), runs a PASSIVE
 * checkpoint: it copies what no reader still needs, never waits for a lock and never blocks a
 * writer, and its fsyncs happen here, not on the event loop. While the WAL is that long and a
 * checkpoint copies something, the next one follows at once (`tick`), until the WAL starts over.
 *
 * "How far ahead" is the wal-index header in the -shm file (https://www.sqlite.org/walformat.html
 * §2.2, native byte order): mxFrame (offset 16) is the last committed frame, nBackfill (offset
 * 96) the last one already copied. The -wal file's size cannot tell: it never shrinks, and after
 * a complete checkpoint the next commit writes over it from the start. The header is read
 * without SQLite's locks; a torn read only moves one checkpoint by a tick. A header of another
 * version (not expected: it has been 3007000 since SQLite 3.7.0) falls back to a PASSIVE
 * checkpoint every tick, and past the threshold its follow-ups while they copy something (told
 * by the checkpoint's own answer); one copies nothing and syncs nothing when nothing is pending.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const os = require('node:os');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// A checkpoint syncs the WAL before writing its pages into the database, and the database
// after: the order power-loss safety needs (synchronous=OFF would skip both).
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
// A first read opens the WAL, and with it the -shm file, should no connection have yet.
db.pragma('schema_version');
const WALINDEX_VERSION = 3007000;
const header = Buffer.alloc(100);
const le = os.endianness() === 'LE';
const u32 = (at) => (le ? header.readUInt32LE(at) : header.readUInt32BE(at));
let shm = null;
try { shm = fs.openSync(workerData.file + '-shm', 'r'); } catch { shm = null; }
/** The frames already copied (nBackfill) when due() last read the header; null if it could not. */
let backfilled = null;
/** Whether the WAL is due a checkpoint; true when the header cannot tell. */
function due() {
  backfilled = null;
  if (shm === null || fs.readSync(shm, header, 0, 100, 0) < 100) return true;
  if (u32(0) !== WALINDEX_VERSION) return true;
  const frames = u32(16);
  backfilled = u32(96);
  const pending = Math.max(0, frames - backfilled);
  // Past the threshold, each tick also copies the few frames committed during the last
  // checkpoint: the next commit writes over the WAL from the start only once all are copied.
  return pending >= workerData.pages || (pending > 0 && frames >= workerData.pages);
}
function checkpoint() {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  parentPort.postMessage({ checkpoint: r });
  return r;
}
// Past the threshold a tick's checkpoint copies what was committed up to its start, and
// commits made while it copies are left pending: under commits without a pause the next
// tick found the same, so the WAL never started over and grew until the writers' backstop
// checkpointed on the event loop (40-65 ms every few seconds at 64 connections of single
// events). So, past the threshold, the next checkpoint follows at once, copying only what
// came in meanwhile, until one ends between two commits and the next commit starts the WAL
// over. A pass that copied nothing new (a reader keeps the rest) waits for the next tick, so
// the thread never spins: it goes again only after copying frames a commit added. Under
// single events at 64 connections that was about 28 passes a second, against 5 (each pass
// syncs the WAL and the file once).
/** What the last pass had copied, for a header due() cannot read; -1 after the WAL started over. */
let copied = -1;
function tick() {
  let again = false;
  try {
    if (due()) {
      const before = backfilled ?? copied;
      const r = checkpoint();
      again = r.log >= workerData.pages && r.checkpointed > before;
      copied = r.log >= workerData.pages ? r.checkpointed : -1;
    }
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
  timer = setTimeout(tick, again ? 1 : workerData.intervalMs);
}
let timer = setTimeout(tick, workerData.intervalMs);
// The store's own requests (the purge's): PASSIVE copies what it can; TRUNCATE copies all and
// empties the WAL file, and is tried without waiting: a TRUNCATE that waits holds off every
// writer meanwhile (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html), and the event loop's
// connection waits for a lock synchronously. busy=1 then means "try again later".
function run(mode) {
  if (mode !== 'TRUNCATE') return db.pragma('wal_checkpoint(PASSIVE)')[0];
  db.pragma('busy_timeout = 0');
  try { return db.pragma('wal_checkpoint(TRUNCATE)')[0]; } finally { db.pragma('busy_timeout = 5000'); }
}
parentPort.on('message', (m) => {
  if (m.run) {
    try { parentPort.postMessage({ ran: m.id, result: run(m.run) }); }
    catch (e) { parentPort.postMessage({ ran: m.id, error: String((e && e.message) || e) }); }
    return;
  }
  if (!m.close) return;
  clearTimeout(timer);
  // What the writers committed last goes into the file before the connection closes.
  try { checkpoint(); } catch (e) { parentPort.postMessage({ error: String((e && e.message) || e) }); }
  if (shm !== null) fs.closeSync(shm);
  db.close();
  parentPort.postMessage({ closed: true });
});
`;

/**
 * Runs the SQLite file's WAL checkpoints on a thread of its own, with a connection of its own
 * (issue 22). A checkpoint left to `wal_autocheckpoint` runs inside whichever commit crosses
 * the threshold; on the event loop that was 132 ms in 15,000 single events (mostly fsync),
 * stalling every request behind it.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private closed: Promise<void> | null = null;
  private exited = false;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }
  >();

  private readonly onError?: (message: string) => void;

  constructor(file: string, opts: CheckpointerOptions) {
    this.onError = opts.onError;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { file, driver, pages: opts.pages, intervalMs: opts.intervalMs },
    });
    // A store left open must not hold the process: the WAL is whole without a checkpoint.
    this.worker.unref();
    this.worker.on(
      'message',
      (m: {
        checkpoint?: CheckpointResult;
        error?: string;
        closed?: boolean;
        ran?: number;
        result?: CheckpointResult;
      }) => {
        if (m.ran !== undefined) return this.answer(m.ran, m.result, m.error);
        if (m.checkpoint) opts.onCheckpoint?.(m.checkpoint);
        if (m.error) opts.onError?.(`WAL checkpoint failed: ${m.error}`);
        if (m.closed) void this.worker.terminate();
      },
    );
    this.worker.on('error', (e) => opts.onError?.(`WAL checkpointer stopped: ${e.message}`));
    this.worker.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error('WAL checkpointer stopped'));
      this.waiting.clear();
    });
  }

  /**
   * Runs one checkpoint on the thread now, beside the event loop: PASSIVE copies every
   * committed page no reader still needs; TRUNCATE also empties the WAL file, or answers
   * busy=1 at once when a writer or an older reader is in the way.
   */
  run(mode: 'PASSIVE' | 'TRUNCATE'): Promise<CheckpointResult> {
    if (this.exited || this.closed) return Promise.reject(new Error('WAL checkpointer stopped'));
    const id = this.nextId++;
    return new Promise<CheckpointResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Held open while a caller waits, as any awaited work; unref'd again once none does.
      this.worker.ref();
      this.worker.postMessage({ run: mode, id });
    });
  }

  /** Passes a message to the store's owner, as the thread's own failures are. */
  warn(message: string): void {
    this.onError?.(message);
  }

  private answer(id: number, result?: CheckpointResult, error?: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0 && !this.closed) this.worker.unref();
    if (result) w.resolve(result);
    else w.reject(new Error(`WAL checkpoint failed: ${error ?? 'no result'}`));
  }

  /** Runs a last checkpoint, closes the thread's connection and ends the thread. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.worker.once('exit', () => resolve());
      // Held open until the last checkpoint is done, as any awaited work.
      this.worker.ref();
      this.worker.postMessage({ close: true });
    });
    return this.closed;
  }
}
