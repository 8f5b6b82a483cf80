import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Touch } from '../../domain/event.js';
import type { ImpressionView } from '../../domain/viewability.js';
import { SQLITE_VIEW_UPSERT, viewValues } from '../kysely/impression-views.js';
import { storedTraffic, TOUCH_WRITE_COLUMNS } from '../kysely/ingest-columns.js';

/**
 * The thread's code, plain JavaScript so it runs the same from the sources (tests) and
 * from dist/. It owns a second connection to the SQLite file and inserts each batch of
 * touches in one transaction.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
db.pragma('secure_delete = ON');
db.pragma('wal_autocheckpoint = ' + workerData.checkpointPages);
const insert = db.prepare(
  'INSERT INTO touches (' + workerData.columns.join(', ') + ') VALUES (' + workerData.columns.map(() => '?').join(', ') + ')'
);
// Day counts for reports (domain/touch-days.ts), in the same transaction as the touches.
const addDay = db.prepare(
  'INSERT INTO touch_days (env_id, day, kind, dest_id, campaign_id, creative_id, n) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (env_id, day, kind, dest_id, campaign_id, creative_id) DO UPDATE SET n = n + excluded.n'
);
const width = workerData.columns.length;
const at = Object.fromEntries(workerData.columns.map((c, i) => [c, i]));
// Rows arrive as one JSON array of values, width values per row, in column order.
const insertAll = db.transaction((values) => {
  const days = new Map();
  for (let i = 0; i < values.length; i += width) {
    const row = values.slice(i, i + width);
    insert.run(row);
    const k = [row[at.env_id], Math.floor(row[at.time] / 86400), row[at.kind], row[at.dest_id] || '', row[at.campaign_id] || '', row[at.creative_id] || ''];
    const key = k.join('\\u0000');
    const d = days.get(key);
    if (d) d[6]++; else days.set(key, [...k, 1]);
  }
  for (const d of days.values()) addDay.run(d);
});
// Viewability signals (issue 24): each row merged into its impression's, one transaction a
// batch, after the touches sent before them. Prepared on first use, once the table exists.
let upsertView = null;
const upsertViews = db.transaction((rows) => { for (const r of rows) upsertView.run(r); });
parentPort.on('message', (m) => {
  if (m.close) { db.close(); parentPort.postMessage({ closed: true }); return; }
  try {
    if (m.views) { upsertView ??= db.prepare(workerData.viewUpsert); upsertViews(JSON.parse(m.views)); }
    else insertAll(JSON.parse(m.values));
    parentPort.postMessage({ id: m.id });
  }
  catch (e) { parentPort.postMessage({ id: m.id, error: String(e && e.message || e) }); }
});
`;

/**
 * Appends a touch's values in TOUCH_WRITE_COLUMNS order. Named reads, not `r[column]` in a loop: a keyed
 * read by a changing column name is a megamorphic lookup, which showed in the pixel's profile.
 */
function pushRow(out: unknown[], r: Touch): void {
  out.push(
    r.env_id,
    r.kind,
    r.touch_id,
    r.dest_id ?? null,
    r.campaign_id ?? null,
    r.creative_id ?? null,
    r.placement_id ?? null,
    r.time,
    r.anonymous_id ?? null,
    r.user_id ?? null,
    r.ip ?? null,
    r.user_agent ?? null,
    storedTraffic(r.traffic),
    r.traffic_source ? JSON.stringify(r.traffic_source) : null,
  );
}

/**
 * Writes pixel touches on a thread of their own (DESIGN §8): better-sqlite3 blocks the
 * thread it runs on, and touch inserts were most of a pixel hit's cost on the event loop.
 * Each `write` resolves once its rows are committed.
 */
export class TouchWriterThread {
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private closed: Promise<void> | null = null;

  constructor(file: string, checkpointPages: number) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        file,
        driver,
        checkpointPages,
        columns: TOUCH_WRITE_COLUMNS,
        viewUpsert: SQLITE_VIEW_UPSERT,
      },
    });
    this.worker.on('message', (m: { id?: number; error?: string; closed?: boolean }) => {
      if (m.closed) void this.worker.terminate();
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`touch insert failed: ${m.error}`));
      else w?.resolve();
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => this.failAll(new Error('touch writer thread exited')));
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  /** Commits the touches; resolves when they are durable in the WAL. */
  write(rows: readonly Touch[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('touch writer is closed'));
    const id = ++this.seq;
    // One flat array of values, sent as one JSON string: postMessage's structured clone of
    // the array cost the event loop twice what JSON.stringify does (a string is copied whole).
    const values: unknown[] = [];
    for (const r of rows) pushRow(values, r);
    const json = JSON.stringify(values);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, values: json });
    });
  }

  /**
   * Merges viewability signals into their rows (issue 24), off the event loop like touches,
   * and after the touches written before them; resolves once committed.
   */
  writeViews(views: readonly ImpressionView[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('touch writer is closed'));
    const id = ++this.seq;
    const json = JSON.stringify(viewValues(views));
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, views: json });
    });
  }

  /** Waits for the writes in flight, closes the thread's connection and ends the thread. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      // Messages are handled in order: the close comes after every pending write.
      this.worker.postMessage({ close: true });
    });
    return this.closed;
  }
}
