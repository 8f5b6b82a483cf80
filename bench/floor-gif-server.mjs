// The floor under pixeltrail's /i: bare-gif-server.mjs plus nothing but durable recording,
// the prototype the issue measured ("node:http + SQLite batched every 10 ms"). Each hit's
// query is parsed and its row queued; every 10 ms the queue is inserted in one transaction
// on the same thread. No cookie, consent, bot check, IP hash, metrics or writer thread.
//
//   node bench/floor-gif-server.mjs plain    a touches table with no index but its rowid
//   node bench/floor-gif-server.mjs indexed  pixeltrail's touches table and its indexes
//                                            (the ones attribution looks people up by)
//
// Run as its own process by run.mjs; listens on 127.0.0.1 and prints `listening <port>`.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'fast-querystring';

const mode = process.argv[2] === 'indexed' ? 'indexed' : 'plain';
const FLUSH_MS = 10;
const GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
).toString('latin1');
const HEADERS = {
  'content-type': 'image/gif',
  'cache-control': 'no-store',
  'content-length': String(GIF.length),
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pixeltrail-floor-${mode}-`));
const db = new Database(path.join(dir, 'floor.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 10000');
db.exec(`create table touches (id integer primary key autoincrement, env_id text not null,
  kind text not null, touch_id text not null, dest_id text, campaign_id text, creative_id text,
  placement_id text, time integer not null, anonymous_id text, user_id text, ip text,
  user_agent text, traffic text)`);
if (mode === 'indexed') {
  // As src/store/migrations.ts creates them (0030_touch_kinds: ad touches and visits apart).
  db.exec('create index touches_by_touch_id on touches (env_id, touch_id, time)');
  for (const [name, kind] of [
    ['ads', "kind <> 'visit'"],
    ['visits', "kind = 'visit'"],
  ]) {
    for (const col of ['anonymous_id', 'ip'])
      db.exec(
        `create index touches_${name}_by_${col} on touches (env_id, ${col}, time) where ${kind}`,
      );
    db.exec(
      `create index touches_${name}_by_user_id on touches (env_id, user_id, time) where ${kind} and user_id is not null`,
    );
  }
  db.exec('create index touches_by_time on touches (time)');
}
const insert = db.prepare(
  `insert into touches (env_id, kind, touch_id, dest_id, campaign_id, time, anonymous_id, ip,
   user_agent) values (?, 'impression', ?, ?, ?, ?, ?, ?, ?)`,
);
// Every bench hit is a new browser: pixeltrail gives each a time-prefixed id, as this does.
const browserPrefix = Date.now().toString(36);
let browsers = 0;
let queue = [];
const insertAll = db.transaction((rows) => {
  for (const r of rows) insert.run(r);
});
setInterval(() => {
  if (queue.length === 0) return;
  const rows = queue;
  queue = [];
  insertAll(rows);
}, FLUSH_MS);

const server = http.createServer((req, res) => {
  const at = req.url.indexOf('?');
  const q = at < 0 ? {} : parse(req.url.slice(at + 1));
  // Like bare-gif-server.mjs, any other request (run.mjs's /healthz) just gets the GIF.
  if (typeof q.env_id === 'string' && typeof q.imp_id === 'string')
    queue.push([
      q.env_id,
      q.imp_id,
      q.dest_id ?? null,
      q.campaign_id ?? null,
      Math.floor(Date.now() / 1000),
      `${browserPrefix}${(++browsers).toString(36)}`,
      req.socket.remoteAddress,
      req.headers['user-agent'] ?? null,
    ]);
  res.writeHead(200, HEADERS);
  res.end(GIF, 'latin1');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', () => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
