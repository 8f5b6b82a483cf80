import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSend, keepAliveAgents } from './http-send.js';

let server: http.Server;
let base = '';
let connections = 0;
const seen: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
const served = new WeakMap<object, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      if (req.url === '/slow') return; // never answers
      if (req.url === '/cut') {
        // The headers and part of the body, then the connection is lost.
        res.writeHead(200, { 'content-length': '1000' });
        res.write('{"partial":');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      if (req.url === '/stale') {
        // A kept-alive connection the receiver drops when the next request comes on it.
        const n = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, n);
        if (n > 1) return req.socket.destroy();
        return res.end('{}');
      }
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

  it('HS05 an answer cut off halfway is a network failure, not a wait without end', async () => {
    const send = agentSend(keepAliveAgents());
    expect(await send(post('/cut'), 2000)).toEqual({ kind: 'network', error: 'ECONNRESET' });
  });

  it('HS06 a kept-alive connection dropped by the receiver is sent on a new one, once', async () => {
    const send = agentSend(keepAliveAgents());
    expect(await send(post('/stale'), 2000)).toMatchObject({ kind: 'response', status: 200 });
    const before = seen.length;
    expect(await send(post('/stale'), 2000)).toMatchObject({ kind: 'response', status: 200 });
    // The request on the old connection, then its copy on a new one.
    expect(seen.length - before).toBe(2);
  });

  it('HS07 a header node:http refuses is a result; receivers get a user agent and accept', async () => {
    const send = agentSend(keepAliveAgents());
    const bad = { ...post('/hook'), headers: { authorization: 'Bearer a\nb' } };
    expect(await send(bad, 2000)).toMatchObject({ kind: 'network' });
    await send(post('/hook'), 2000);
    expect(seen.at(-1)?.headers['user-agent']).toBe('pixeltrail');
    expect(seen.at(-1)?.headers.accept).toBe('*/*');
  });
});
