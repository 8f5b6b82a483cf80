import { describe, expect, it } from 'vitest';
import { addressAllowance, addressRefusal, parseCidr } from './private-address.js';

const none = addressAllowance(false);

describe('destination addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::7f00:1', 'reserved'],
    ['2002:7f00:1::', 'reserved'],
  ])('PA01 %s is refused as %s', (ip, what) => {
    expect(addressRefusal(ip, none)).toContain(what);
  });

  it('PA02 public unicast addresses are sent to', () => {
    for (const ip of ['8.8.8.8', '157.240.1.35', '2a03:2880:f12f:83:face:b00c::25de'])
      expect(addressRefusal(ip, none)).toBeNull();
  });

  it('PA03 a CIDR allowance lets its own range through and nothing else', () => {
    const allow = addressAllowance(['127.0.0.0/8', 'fd12::/16', '192.168.5.5']);
    expect(addressRefusal('127.0.0.1', allow)).toBeNull();
    expect(addressRefusal('::ffff:127.0.0.9', allow)).toBeNull();
    expect(addressRefusal('fd12::7', allow)).toBeNull();
    expect(addressRefusal('192.168.5.5', allow)).toBeNull();
    expect(addressRefusal('192.168.5.6', allow)).toContain('private');
    expect(addressRefusal('169.254.169.254', allow)).toContain('link-local');
  });

  it('PA04 true allows every address; entries that are not CIDRs do not parse', () => {
    expect(addressRefusal('169.254.169.254', addressAllowance(true))).toBeNull();
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('intranet')).toBeNull();
    expect(parseCidr('10.0.0.0/8')).not.toBeNull();
  });
});
