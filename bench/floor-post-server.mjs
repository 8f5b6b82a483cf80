// The floor under pixeltrail's single-event `POST /v1/events`: bare-gif-server.mjs's POST
// (body read whole, JSON.parse, the same `{accepted, duplicates, errors}` answer) plus
// nothing but durable recording of what pixeltrail stores for the bench's Purchase, answered
// after its commit. No validation, write key, cookie, consent, IP hash, metrics, attribution
// logic or rate limit: what is left between this server and pixeltrail is the product.
//
// Per event, in pixeltrail's own schema (its migrations from dist/ create a fresh database
// per process) and with its own SQL text (imported from dist/): the dedup key claim
// (CLAIM_DEDUP_UPSERT; a lost claim is a duplicate and stores nothing else), the person's
// touch lookup by IP (TOUCHES_BY_IP; the touches table is empty, as in the bench), the event
// row (its `data` the event as JSON, as pixeltrail keeps it), the conversion row for the one
// destination (unattributed, as pixeltrail records the bench's) and its conversion path.
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
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  ipLookupParams,
  PATH_COLUMNS,
  PATH_CONFLICT,
} from '../dist/store/kysely/ingest-columns.js';
import {
  CLAIM_DEDUP_UPSERT,
  INSERT_EVENT,
  TOUCHES_BY_IP,
} from '../dist/store/kysely/ingest-sql.js';
import { insertText } from '../dist/store/kysely/ingest-statements.js';
import { openSqliteStore, SQLITE_FILE } from '../dist/store/sqlite/open-sqlite.js';
import { DEST_ID, ENV_ID } from './pixeltrail-server.mjs';

// As pixeltrail records the bench's Purchase: no touch, so unattributed, with this reason.
const NO_TOUCH = 'no touch of this person for this destination';
// What pixeltrail's stored event JSON carries beside the event itself (no consent signal).
const STORED_EXTRAS = {
  consent: { ads: null, analytics: null, signals: [] },
  warnings: [],
  verified: 'write_key',
};
const DEDUP_WINDOW_S = 48 * 3600;
const LOOKBACK_S = 7 * 24 * 3600;
/** How far back an address's touches are read: the default probabilistic windows (1 d). */
const IP_LOOKBACK_S = 24 * 3600;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixeltrail-floor-post-'));
const store = openSqliteStore(dir);
await store.migrate();
await store.close();

const db = new Database(path.join(dir, SQLITE_FILE));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma('secure_delete = ON');
db.pragma('wal_autocheckpoint = 1000');

const claim = db.prepare(CLAIM_DEDUP_UPSERT);
const touches = db.prepare(TOUCHES_BY_IP);
const insertEvent = db.prepare(INSERT_EVENT);
const putConversion = db.prepare(
  `${insertText('conversions', CONVERSION_COLUMNS)} ${CONVERSION_CONFLICT}`,
);
const putPath = db.prepare(`${insertText('conversion_paths', PATH_COLUMNS)} ${PATH_CONFLICT}`);

// pixeltrail's keys are a base-36 time prefix and 22 random characters; a counter of the same
// width keeps them unique, as long and as ordered, without spending the floor's CPU on
// randomness.
const keyPrefix = Date.now().toString(36);
let keys = 0;

/** Stores one event; false when its dedup key was already claimed (a duplicate). */
function record(e, nowMs) {
  const nowS = Math.floor(nowMs / 1000);
  const suffix = `${keyPrefix}.${(++keys).toString(36).padStart(22, '0')}`;
  const pk = `ev_${suffix}`;
  const name = e.event_name;
  const id = e.event_id;
  if (claim.run(ENV_ID, name, id, pk, nowS, pk, nowS, nowS - DEDUP_WINDOW_S).changes === 0)
    return false;
  const ip = e.user?.ip ?? null;
  const since = nowS - LOOKBACK_S;
  touches.all(...ipLookupParams(ENV_ID, since, nowS - IP_LOOKBACK_S, ip));
  const value = e.properties?.value ?? null;
  const currency = e.properties?.currency ?? null;
  const data = JSON.stringify({
    env_id: ENV_ID,
    ...e,
    event_time: nowS,
    source: 'server',
    ...STORED_EXTRAS,
  });
  // EVENT_COLUMNS' order: no browser or user id, no duplicate yet, no traffic, not a test.
  insertEvent.run(
    pk,
    ENV_ID,
    name,
    id,
    nowS,
    nowMs,
    'server',
    null,
    null,
    value,
    currency,
    data,
    0,
    null,
    0,
  );
  const cv = `cv_${suffix}`;
  // CONVERSION_COLUMNS' order: unattributed, no campaign, not a test, the dedup row, no fraud.
  putConversion.run(
    cv,
    DEST_ID,
    ENV_ID,
    pk,
    name,
    id,
    nowS,
    value,
    currency,
    0,
    null,
    NO_TOUCH,
    nowMs,
    null,
    null,
    null,
    0,
    null,
    1,
    null,
    null,
  );
  putPath.run(ENV_ID, cv, pk, name, nowS, value, currency, LOOKBACK_S, '[]', nowMs);
  return true;
}

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
  for (const q of batch) {
    const answer = JSON.stringify({
      accepted: q.accepted,
      duplicates: q.events.length - q.accepted,
      errors: [],
    });
    q.res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(answer)),
    });
    q.res.end(answer);
  }
}

const server = http.createServer((req, res) => {
  // Like bare-gif-server.mjs, anything but a POST (the bench's /healthz) gets a plain 200.
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let events;
    try {
      ({ events } = JSON.parse(Buffer.concat(chunks).toString('utf8')));
      if (!Array.isArray(events)) throw new TypeError('events is not a list');
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"invalid_json"}');
      return;
    }
    if (queue.length === 0) setImmediate(flush);
    queue.push({ res, events, accepted: 0 });
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', () => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
