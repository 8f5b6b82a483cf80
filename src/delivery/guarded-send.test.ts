import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyAttempt } from '../domain/delivery-policy.js';
import { addressAllowance } from '../domain/private-address.js';
import { destinationSend, guardedSend, type Resolve } from './guarded-send.js';

let server: http.Server;
let port = 0;
let hits = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const post = (url: string) => ({
  url,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body: '{}',
});

describe('guarded send', () => {
  it.each([
    ['a loopback address', () => `http://127.0.0.1:${port}/hook`],
    ['a decimal address', () => `http://2130706433:${port}/hook`],
    ['a hexadecimal address', () => `http://0x7f000001:${port}/hook`],
    ['an octal address', () => `http://0177.0.0.1:${port}/hook`],
    ['an IPv4-mapped IPv6 address', () => `http://[::ffff:127.0.0.1]:${port}/hook`],
    ['IPv6 loopback', () => `http://[::1]:${port}/hook`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a name that resolves to loopback', () => `http://localhost:${port}/hook`],
  ])('GS01 refuses %s, and nothing is sent', async (_what, url) => {
    const before = hits;
    const r = await guardedSend(addressAllowance(false))(post(url()), 2000);
    expect(r).toMatchObject({ kind: 'network' });
    expect(r.kind === 'network' && r.error).toMatch(/^address_refused: /);
    expect(hits).toBe(before);
  });

  it('GS02 an address the operator allows is sent to', async () => {
    const before = hits;
    const r = await guardedSend(addressAllowance(['127.0.0.0/8']))(
      post(`http://localhost:${port}/hook`),
      2000,
    );
    expect(r).toMatchObject({ kind: 'response', status: 200, contentType: 'application/json' });
    expect(hits).toBe(before + 1);
  });

  it('GS03 the address checked is the one connected to: the name is resolved once per connection', async () => {
    // A rebinding name: allowed on the first answer, private on every later one.
    const answers: string[] = [];
    const rebinding: Resolve = async () => {
      const address = answers.length === 0 ? '127.0.0.1' : '10.0.0.1';
      answers.push(address);
      return [{ address, family: 4 }];
    };
    const send = guardedSend(addressAllowance(['127.0.0.1/32']), rebinding);
    const before = hits;
    const r = await send(post(`http://rebind.test:${port}/hook`), 2000);
    expect(r).toMatchObject({ kind: 'response', status: 200 });
    expect(answers).toEqual(['127.0.0.1']);
    expect(hits).toBe(before + 1);
  });

  it('GS04 a name with any private address among its answers is refused', async () => {
    const mixed: Resolve = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    const r = await guardedSend(addressAllowance(false), mixed)(post('http://mixed.test/'), 2000);
    expect(r.kind === 'network' && r.error).toMatch(
      /mixed\.test: 10\.0\.0\.1 is a private address/,
    );
  });

  it('GS05 a refused address pauses the destination rather than retrying', () => {
    const v = classifyAttempt({ kind: 'network', error: 'address_refused: x' }, 0);
    expect(v.action).toBe('pause');
  });

  it("GS06 the config file's destinations are sent as before; API-made ones are guarded", async () => {
    const send = destinationSend(addressAllowance(false));
    const url = `http://127.0.0.1:${port}/hook`;
    expect(await send(post(url), 2000)).toMatchObject({ kind: 'response', status: 200 });
    expect(await send({ ...post(url), publicOnly: true }, 2000)).toMatchObject({
      kind: 'network',
    });
  });
});
