import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSend, keepAliveAgents } from './http-send.js';

let server: http.Server;
let base = '';
let connections = 0;
const seen: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      if (req.url === '/slow') return; // never answers
      if (req.url === '/moved') return res.writeHead(302, { location: '/hook' }).end();
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
        .end(JSON.stringify({ error: 'x'.repeat(100_000) }));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const post = (path: string, body = '{"a":1}') => ({
  url: `${base}${path}`,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
  body,
});

describe('sending a delivery over node:http', () => {
  it('HS01 the answer, its headers and a bounded body; the request whole, with its length', async () => {
    const send = agentSend(keepAliveAgents());
    const r = await send(post('/hook', '{"é":1}'), 2000);
    expect(r).toMatchObject({
      kind: 'response',
      status: 429,
      retryAfter: '7',
      contentType: 'application/json',
    });
    expect(r.kind === 'response' && r.bodyExcerpt.length).toBe(64 * 1024);
    const got = seen.at(-1);
    expect(got?.body).toBe('{"é":1}');
    expect(got?.headers['content-length']).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(got?.headers['transfer-encoding']).toBeUndefined();
    expect(got?.headers.authorization).toBe('Bearer t');
  });

  it('HS04 a DELETE with a body (an audience removal) arrives with it', async () => {
    const send = agentSend(keepAliveAgents());
    await send({ ...post('/hook', '{"remove":["h1"]}'), method: 'DELETE' }, 2000);
    expect(seen.at(-1)?.body).toBe('{"remove":["h1"]}');
  });

  it('HS02 one sender keeps its connection for the next request', async () => {
    const send = agentSend(keepAliveAgents());
    const before = connections;
    for (let i = 0; i < 5; i++) await send(post('/hook'), 2000);
    expect(connections - before).toBe(1);
  });

  it('HS03 no redirect is followed; failures come back as results', async () => {
    const send = agentSend(keepAliveAgents());
    expect(await send(post('/moved'), 2000)).toMatchObject({ kind: 'response', status: 302 });
    expect(await send(post('/slow'), 200)).toEqual({ kind: 'network', error: 'TimeoutError' });
    const closed = await new Promise<string>((resolve) => {
      const s = http.createServer();
      s.listen(0, '127.0.0.1', () => {
        const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
        s.close(() => resolve(url));
      });
    });
    expect(await send({ ...post(''), url: closed }, 2000)).toEqual({
      kind: 'network',
      error: 'ECONNREFUSED',
    });
    expect(await send({ ...post(''), url: 'ftp://example.com/' }, 2000)).toEqual({
      kind: 'network',
      error: 'unsupported_protocol',
    });
  });
});
