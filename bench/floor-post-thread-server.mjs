// floor-post-server.mjs with its recording on a worker thread: the event loop reads, parses
// and answers; the thread runs each batch's transaction (the same floor-record.mjs statements)
// on a connection of its own and gives back each request's accepted count. One batch is in
// flight at a time, and the requests read meanwhile make the next (adaptive group commit, as
// the one-thread floor). It measures what moving durable recording off the event loop would
// give a single-event POST: `node bench/single-event.mjs --thread-floor` runs it as a target.
//
// Run as its own process by single-event.mjs after `npm run build`; listens on 127.0.0.1 and
// prints `listening <port>` once ready.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { answerEvents, eventsServer } from './floor-post-http.mjs';
import { floorDatabase, serverEventRecorder } from './floor-record.mjs';
import { DEST_ID, ENV_ID } from './pixeltrail-server.mjs';

if (!isMainThread) {
  const db = new Database(workerData.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('secure_delete = ON');
  db.pragma('wal_autocheckpoint = 1000');
  const record = serverEventRecorder(db, ENV_ID, DEST_ID);
  // A batch: each request's events; the answer: each request's accepted count.
  const commit = db.transaction((batch, nowMs) =>
    batch.map((events) => {
      let accepted = 0;
      for (const e of events) if (record(e, nowMs)) accepted++;
      return accepted;
    }),
  );
  parentPort.on('message', (batch) => parentPort.postMessage(commit(batch, Date.now())));
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-floor-thread-'));
  const made = await floorDatabase(dir);
  const file = made.name;
  made.close();
  const thread = new Worker(fileURLToPath(import.meta.url), { workerData: { file } });
  /** Requests waiting for the next batch, and those of the batch in flight. */
  let queue = [];
  let inFlight = null;
  const flush = () => {
    if (inFlight || queue.length === 0) return;
    inFlight = queue;
    queue = [];
    thread.postMessage(inFlight.map((q) => q.events));
  };
  // A failed batch fails the run: the bench reads a dead target's errors, never a hang.
  thread.on('error', (e) => {
    process.stderr.write(`floor thread failed: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
  thread.on('message', (accepted) => {
    const batch = inFlight;
    inFlight = null;
    for (const [i, q] of batch.entries()) answerEvents(q.res, accepted[i], q.events.length);
    if (queue.length > 0) setImmediate(flush);
  });
  eventsServer((res, events) => {
    if (queue.length === 0 && !inFlight) setImmediate(flush);
    queue.push({ res, events });
  });
  process.on('SIGTERM', () => {
    void thread.terminate().then(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}
