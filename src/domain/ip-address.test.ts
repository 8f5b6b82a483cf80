import { describe, expect, it } from 'vitest';
import { canonicalIp, requestIp } from './ip-address.js';

describe('canonicalIp', () => {
  it('IPA01 IPv4 and IPv4-mapped IPv6 are the same address', () => {
    expect(canonicalIp('203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalIp(' 203.0.113.9 ')).toBe('203.0.113.9');
    expect(canonicalIp('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalIp('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('::ffff:cb00:7109')).toBe('203.0.113.9');
    expect(canonicalIp('0:0:0:0:0:ffff:cb00:7109')).toBe('203.0.113.9');
  });

  it('IPA02 IPv6 is written in RFC 5952 form, without a zone', () => {
    expect(canonicalIp('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:DB8::1')).toBe('2001:db8::1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('::1')).toBe('::1');
    // An IPv4 tail outside ::ffff: is not a mapped address and stays IPv6.
    expect(canonicalIp('64:ff9b::203.0.113.9')).toBe('64:ff9b::cb00:7109');
  });

  it('IPA03 anything that is not an address is null', () => {
    for (const bad of [
      '',
      'unknown',
      '1.2.3.4:80',
      '1.2.3',
      '256.1.1.1',
      '::gg',
      '[::1]',
      'h:abc',
    ]) {
      expect(canonicalIp(bad), bad).toBeNull();
    }
    expect(canonicalIp('1'.repeat(100))).toBeNull();
  });

  it('IPA04 a request address may carry a port or brackets, as some proxies write it', () => {
    expect(requestIp('203.0.113.9:51234')).toBe('203.0.113.9');
    expect(requestIp('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(requestIp('[::ffff:203.0.113.9]')).toBe('203.0.113.9');
    expect(requestIp('::ffff:203.0.113.9')).toBe('203.0.113.9');
    for (const bad of ['unknown', '203.0.113.9:port', '[nope]:1', ''])
      expect(requestIp(bad), bad).toBeNull();
  });
});
