// The floor under pixeltrail's single-event `POST /v1/events`: bare-gif-server.mjs's POST
// (body read whole, JSON.parse, the same `{accepted, duplicates, errors}` answer) plus
// nothing but durable recording of what pixeltrail stores for the bench's Purchase, answered
// after its commit. No validation, write key, cookie, consent, IP hash, metrics, attribution
// logic or rate limit: what is left between this server and pixeltrail is the product.
//
// Per event, in pixeltrail's own schema (its migrations from dist/ create a fresh database
// per process) and with its own SQL text: floor-record.mjs's statements (the touches table is
// empty, as in the bench; the event row's `data` is the event as JSON, as pixeltrail keeps it).
//
// Adaptive group commit on the one thread, as pixeltrail's ingest: the first request queued
// schedules one flush (setImmediate, once the event loop has read what is waiting); the flush
// runs one transaction for everything queued, then answers every request in it. Pragmas as
// src/store/sqlite/open-sqlite.ts (WAL, synchronous NORMAL, secure_delete ON). pixeltrail
// checkpoints the WAL on a thread of its own with a 50,000-page backstop; this floor keeps
// SQLite's default wal_autocheckpoint (1,000 pages) on the event loop instead, the simplest
// comparable choice (its fsyncs stop the loop; its CPU is counted either way). Each run
// starts a fresh database, where pixeltrail's grows over the rounds; the size barely counts
// at the bench's scale: these statements in transactions of 40, in process, took 23.1 µs of
// CPU an event for the first 100,000 events and 23.7 for the 500,000th to 600,000th.
//
// Run as its own process by single-event.mjs after `npm run build`; listens on 127.0.0.1 and
// prints `listening <port>` once ready.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { answerEvents, eventsServer } from './floor-post-http.mjs';
import { floorDatabase, serverEventRecorder } from './floor-record.mjs';
import { DEST_ID, ENV_ID } from './pixeltrail-server.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-floor-post-'));
const db = await floorDatabase(dir);
db.pragma('wal_autocheckpoint = 1000');

/** Stores one event; false when its dedup key was already claimed (a duplicate). */
const record = serverEventRecorder(db, ENV_ID, DEST_ID);

/** Requests waiting for the next commit: each its response and its parsed events. */
let queue = [];

const commit = db.transaction((batch, nowMs) => {
  for (const q of batch) {
    let accepted = 0;
    for (const e of q.events) if (record(e, nowMs)) accepted++;
    q.accepted = accepted;
  }
});

function flush() {
  const batch = queue;
  queue = [];
  commit(batch, Date.now());
  for (const q of batch) answerEvents(q.res, q.accepted, q.events.length);
}

eventsServer((res, events) => {
  if (queue.length === 0) setImmediate(flush);
  queue.push({ res, events, accepted: 0 });
});

process.on('SIGTERM', () => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
