// The baseline: a bare node:http server answering the same 42-byte GIF as pixeltrail's /i,
// with nothing else (no routing, parsing, cookie, storage). A POST is read whole, parsed as
// JSON and answered as pixeltrail's `POST /v1/events` answers (`{accepted, duplicates,
// errors}`): the baseline of the single-event rows. Run as its own process by run.mjs;
// listens on 127.0.0.1 and prints `listening <port>` once ready.
//
//   node bench/bare-gif-server.mjs            one process
//   node bench/bare-gif-server.mjs --workers N  N processes sharing the port (node:cluster,
//                                              as `serve --workers N`): the most any Node
//                                              server can do with N workers on this box
import cluster from 'node:cluster';
import http from 'node:http';

const TRANSPARENT_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);
// Sent as a latin1 string, as pixeltrail's /i does: node:http then writes headers and body
// in one socket write (a Buffer body takes a writev of two).
const GIF_LATIN1 = TRANSPARENT_GIF.toString('latin1');
const GIF_HEADERS = {
  'content-type': 'image/gif',
  'cache-control': 'no-store',
  'content-length': String(TRANSPARENT_GIF.length),
};

const at = process.argv.indexOf('--workers');
const workers = at < 0 ? 1 : Number(process.argv[at + 1]);

if (workers > 1 && cluster.isPrimary) {
  let up = 0;
  for (let i = 0; i < workers; i++)
    cluster.fork().on('listening', (address) => {
      if (++up === workers) process.stdout.write(`listening ${address.port}\n`);
    });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
} else {
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200, GIF_HEADERS);
      res.end(GIF_LATIN1, 'latin1');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let answer;
      try {
        const { events } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        answer = JSON.stringify({ accepted: events.length, duplicates: 0, errors: [] });
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_json"}');
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(answer)),
      });
      res.end(answer);
    });
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    if (workers === 1) process.stdout.write(`listening ${server.address().port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
