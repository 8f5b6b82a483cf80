import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/config-parse.js';
import { isProxyEntry } from '../../config/proxy-entry.js';
import { clientAddress, peerIsTrusted, trustFunction } from './trust-proxy.js';

const req = (peer: string, xff?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

const trustOf = (trust_proxy: unknown) => {
  const { config, errors } = parseConfig(
    { admin_token: 'a', trust_proxy, environments: [{ id: 'e', write_key: 'w' }] },
    {},
  );
  return { trust: config.trust_proxy, errors };
};

describe('trust_proxy', () => {
  it('TP10 true is one hop; false, 0 and no setting trust none', () => {
    expect(trustOf(true).trust).toBe(1);
    for (const v of [false, 0, undefined]) expect(trustOf(v).trust).toBe(false);
  });

  it('TP11 addresses and CIDRs as a list or one comma-separated string', () => {
    expect(trustOf(['10.0.0.0/8', 'loopback']).trust).toEqual(['10.0.0.0/8', 'loopback']);
    expect(trustOf('10.0.0.0/8, 192.168.1.1').trust).toEqual(['10.0.0.0/8', '192.168.1.1']);
  });

  it('TP12 a bad entry or form is named', () => {
    expect(trustOf(['10.0.0.0/8', 'proxy.local']).errors).toEqual([
      { field: 'trust_proxy[1]', message: 'is not an IP address or CIDR' },
    ]);
    expect(trustOf(-1).errors[0]?.field).toBe('trust_proxy');
    expect(trustOf({}).errors[0]?.field).toBe('trust_proxy');
  });

  it('TP13 the client is the rightmost entry not written by a trusted proxy', () => {
    const one = trustFunction(1);
    expect(clientAddress(req('10.0.0.1', '6.6.6.6, 203.0.113.9'), one)).toBe('203.0.113.9');
    expect(clientAddress(req('10.0.0.1'), one)).toBe('10.0.0.1');
    const cidrs = trustFunction(['10.0.0.0/8']);
    expect(clientAddress(req('10.0.0.1', '6.6.6.6, 203.0.113.9, 10.2.0.1'), cidrs)).toBe(
      '203.0.113.9',
    );
    expect(clientAddress(req('192.0.2.1', '6.6.6.6'), cidrs)).toBe('192.0.2.1');
    expect(clientAddress(req('10.0.0.1', '6.6.6.6'), null)).toBe('10.0.0.1');
  });

  it('TP14 forwarded host and scheme count only from a trusted peer', () => {
    const cidrs = trustFunction(['10.0.0.0/8']);
    expect(peerIsTrusted(req('10.0.0.1'), cidrs)).toBe(true);
    expect(peerIsTrusted(req('192.0.2.1'), cidrs)).toBe(false);
    expect(peerIsTrusted(req('10.0.0.1'), null)).toBe(false);
  });

  it('TP15 the config takes exactly the entries the trust function compiles', () => {
    const entries = [
      ...['10.0.0.1', '10.0.0.0/8', '10.0.0.0/255.0.0.0', '::1', 'fe80::/10', '::ffff:10.0.0.1'],
      ...['loopback', 'linklocal', 'uniquelocal', '127.1', '10.0.0.0/0', '10.0.0.0/33'],
      ...['::1/129', '10.0.0.0/255.0.255.0', '10.0.0.0/0.0.0.0', 'fe80::/255.0.0.0', 'proxy.local'],
      ...['', '10.0.0.0/', '10.0.0.0/x', 'localhost'],
    ];
    const compiles = (x: string) => {
      try {
        proxyAddr.compile(x);
        return true;
      } catch {
        return false;
      }
    };
    for (const x of entries) expect([x, isProxyEntry(x)]).toEqual([x, compiles(x)]);
  });
});
