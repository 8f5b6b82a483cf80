import http from 'node:http';

/** One request a receiver got. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A full answer: status, extra headers, and the JSON body (default `{ok}`). */
export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A real HTTP receiver on 127.0.0.1 whose answer per request the test decides. */
export interface Receiver {
  url: string;
  port: number;
  got: Received[];
  /** Status (and headers, JSON body) for the n-th request (1-based). */
  respond: (rec: Received, n: number) => number | ReceiverAnswer;
  /** Milliseconds to wait before answering (a slow destination). */
  delayMs: number;
  close(): Promise<void>;
  /** Stops listening (the destination is down) until `start` again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startReceiver(
  respond: Receiver['respond'] = () => 200,
  port = 0,
): Promise<Receiver> {
  const got: Received[] = [];
  let server: http.Server;
  const r: Receiver = {
    url: '',
    port,
    got,
    respond,
    delayMs: 0,
    async start() {
      server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          const rec = {
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            body,
            at: Date.now(),
          };
          got.push(rec);
          const a = r.respond(rec, got.length);
          const {
            status,
            headers,
            body: answer,
          } = typeof a === 'number' ? { status: a, headers: {}, body: undefined } : a;
          const send = () => {
            res.writeHead(status, { 'content-type': 'application/json', ...headers });
            res.end(JSON.stringify(answer ?? { ok: status < 300 }));
          };
          if (r.delayMs > 0) setTimeout(send, r.delayMs);
          else send();
        });
      });
      await new Promise<void>((resolve) => server.listen(r.port, '127.0.0.1', resolve));
      r.port = (server.address() as { port: number }).port;
      r.url = `http://127.0.0.1:${r.port}`;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async close() {
      await r.stop();
    },
  };
  await r.start();
  return r;
}
