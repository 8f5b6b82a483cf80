// The HTTP side of the single-event floors (floor-post-server.mjs, floor-post-thread-server.mjs):
// bare-gif-server.mjs's POST (body read whole, JSON.parse, the same `{accepted, duplicates,
// errors}` answer), the recording left to the caller.
import http from 'node:http';

/**
 * A server on 127.0.0.1 (PORT, else any) that gives each POST's parsed `events` to
 * `take(res, events)`, which answers it (answerEvents) once they are recorded; anything but a
 * POST (the bench's /healthz) gets a plain 200. Prints `listening <port>` once ready.
 */
export function eventsServer(take) {
  const server = http.createServer((req, res) => {
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
      take(res, events);
    });
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  return server;
}

/** Answers a request whose `sent` events were recorded, `accepted` of them new. */
export function answerEvents(res, accepted, sent) {
  const answer = JSON.stringify({ accepted, duplicates: sent - accepted, errors: [] });
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(answer)),
  });
  res.end(answer);
}
