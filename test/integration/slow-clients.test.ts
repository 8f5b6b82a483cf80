/**
 * Slow clients cannot exhaust the server (issue 18), over real sockets: a request whose body
 * or head trickles in is cut off at `body_timeout`, and past `max_connections` the
 * connections waiting longest make room, so `/healthz` and `/i` answer on a fresh connection
 * while thousands of slow sockets are open. Chosen here, and why: a cap of 500 against 2,000
 * slow sockets (four times the cap) in this process; and the default cap of a server whose
 * file limit is 1,024 against 2,000 slow sockets (twice its limit, so without a cap it runs
 * out of files), rather than 20,000 sockets against a limit of 20,000, which this box's own
 * test process could not open.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChild, writeConfig } from '../helpers/child-server.js';
import { startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

/** The one byte a trickling client sends each time, and how often. */
const TRICKLE_EVERY_MS = 100;
/** Bytes a trickling client gives up after; at one a TRICKLE_EVERY_MS, ten seconds. */
const TRICKLE_MAX_BYTES = 100;
const SLOW_SOCKETS = 2000;

const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function inProcess(extra: Record<string, unknown>): Promise<string> {
  const config = {
    ...testConfig('http://127.0.0.1:9/hook'),
    rate_limit: { per_ip: 0, per_key: 0 },
    ...extra,
  };
  const { server, base } = await startPixeltrail(config, tempDir());
  servers.push(server);
  return base;
}

interface Trickled {
  /** Bytes of the request sent before the server closed the connection. */
  sent: number;
  answer: string;
}

/** Sends `head` and then one byte of `rest` every TRICKLE_EVERY_MS until the server closes. */
function trickle(base: string, head: string, rest: string): Promise<Trickled> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let sent = 0;
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ sent, answer });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent >= TRICKLE_MAX_BYTES || sent >= rest.length) {
          clearInterval(timer);
          socket.destroy();
          reject(new Error(`the server took ${sent} trickled bytes without cutting the request`));
          return;
        }
        socket.write(rest[sent++]);
      }, TRICKLE_EVERY_MS);
    });
  });
}

/** Opens `count` sockets that each send part of a request and then nothing. */
async function slowSockets(base: string, count: number): Promise<net.Socket[]> {
  const url = new URL(base);
  const partial = [
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ',
    'POST /e HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"e',
    'POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wk_t\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{',
  ];
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from(
      { length: Math.min(100, count - i) },
      (_, j) =>
        new Promise<net.Socket>((resolve) => {
          const socket = net.connect(Number(url.port), url.hostname);
          socket.on('error', () => undefined);
          socket.on('connect', () => {
            socket.write(partial[(i + j) % partial.length]);
            resolve(socket);
          });
          // Shed by the server before it connected here: it still counts as opened.
          socket.on('close', () => resolve(socket));
        }),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/** A metric without labels, read on a fresh connection. */
async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${name} `))
      ?.split(' ')[1],
  );
}

/** A GET on a fresh connection (no keep-alive pool): the status and content type. */
function freshGet(base: string, target: string): Promise<{ status: number; type: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(answer.split(' ')[1]);
      const type = /\r\ncontent-type: ([^\r;]+)/i.exec(answer)?.[1] ?? '';
      resolve({ status, type });
    });
    socket.on('connect', () =>
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\nConnection: close\r\n\r\n`,
      ),
    );
  });
}

describe('slow clients', () => {
  it('SC01 a body trickling into /e or /v1/events, or a head trickling in, is cut off at body_timeout with a 408', async () => {
    const base = await inProcess({ body_timeout: '1s' });
    const body = JSON.stringify({ event_name: 'Lead', env_id: 'env_t', pad: 'x'.repeat(60_000) });
    const heads = [
      `POST /e HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wk_t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    ];
    for (const head of heads) {
      const r = await trickle(base, head, body);
      expect(r.sent).toBeLessThan(TRICKLE_MAX_BYTES);
      expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(r.answer).toContain('"code":"request_timeout"');
    }
    const slowHead = await trickle(base, 'GET /healthz HTTP/1.1\r\n', `X-Slow: ${'x'.repeat(200)}`);
    expect(slowHead.sent).toBeLessThan(TRICKLE_MAX_BYTES);
    expect(slowHead.answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('SC02 a request that arrives within body_timeout is answered, however slowly it came', async () => {
    const base = await inProcess({ body_timeout: '5s' });
    const url = new URL(base);
    const body = JSON.stringify({ event_name: 'Lead', env_id: 'env_t' });
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname);
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        got += d;
        if (got.includes('\r\n\r\n')) socket.end();
      });
      socket.on('close', () => resolve(got));
      socket.on('connect', () => {
        socket.write(
          `POST /e HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        let i = 0;
        const timer = setInterval(() => {
          socket.write(body.slice(i, i + 10));
          i += 10;
          if (i >= body.length) clearInterval(timer);
        }, TRICKLE_EVERY_MS);
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 204 /);
  });

  it(`SC03 max_connections 500: with ${SLOW_SOCKETS} slow sockets open, /healthz and /i answer on fresh connections`, async () => {
    const base = await inProcess({ body_timeout: '60s', max_connections: 500 });
    const sockets = await slowSockets(base, SLOW_SOCKETS);
    try {
      expect(await freshGet(base, '/healthz')).toEqual({ status: 200, type: 'application/json' });
      expect(await freshGet(base, '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SC03')).toEqual({
        status: 200,
        type: 'image/gif',
      });
      expect(await metric(base, 'pixeltrail_connections_open')).toBeLessThanOrEqual(500);
      expect(await metric(base, 'pixeltrail_connections_shed_total')).toBeGreaterThanOrEqual(
        SLOW_SOCKETS - 500,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it(`SC04 by default the cap follows the file limit: a server limited to 1,024 files answers while ${SLOW_SOCKETS} slow sockets are open`, async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, { ...testConfig('http://127.0.0.1:9/hook'), log_level: 'warn' });
    const child: ChildServer = await startChild(cfg, path.join(dir, 'data'), undefined, {}, [], {
      fdLimit: 1024,
    });
    servers.push({ close: () => child.stop() });
    const sockets = await slowSockets(child.base, SLOW_SOCKETS);
    try {
      expect(await freshGet(child.base, '/healthz')).toEqual({
        status: 200,
        type: 'application/json',
      });
      expect(await freshGet(child.base, '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SC04')).toEqual({
        status: 200,
        type: 'image/gif',
      });
      // 1,024 files less the greater of 256 and a fifth.
      const open = await metric(child.base, 'pixeltrail_connections_open');
      expect(open).toBeLessThanOrEqual(768);
      expect(child.child.exitCode).toBeNull();
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
