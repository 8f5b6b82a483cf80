import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { protectIp, truncateIp } from './ip-privacy.js';

describe('IP storage', () => {
  it('I01 hmac: same IP and key give the same value, never the address', () => {
    const a = protectIp('203.0.113.9', 'hmac', 'k1');
    expect(a).toBe(protectIp('203.0.113.9', 'hmac', 'k1'));
    expect(a).not.toContain('203.0.113');
    expect(a).not.toBe(protectIp('203.0.113.9', 'hmac', 'k2'));
    expect(a).not.toBe(protectIp('203.0.113.10', 'hmac', 'k1'));
    // Protecting twice changes nothing (a stored value going through again).
    expect(protectIp(a, 'hmac', 'k1')).toBe(a);
  });

  it('I02 truncated keeps the /24 or /48 network', () => {
    expect(truncateIp('203.0.113.9')).toBe('203.0.113.0');
    expect(truncateIp('::ffff:203.0.113.9')).toBe('203.0.113.0');
    expect(truncateIp('2001:db8:85a3::8a2e:370:7334')).toBe('2001:db8:85a3::');
    expect(truncateIp('2001:db8::1')).toBe('2001:db8:0::');
    expect(truncateIp('not-an-ip')).toBe('');
    expect(protectIp('203.0.113.9', 'raw', 'k')).toBe('203.0.113.9');
  });

  it('I03 remembered hashes stay the keyed HMAC of the address, per key, past the bound', () => {
    const hmac = (ip: string, key: string) =>
      `h:${createHmac('sha256', key).update(ip).digest('base64url').slice(0, 22)}`;
    const first = protectIp('198.51.100.7', 'hmac', 'k1');
    expect(first).toBe(hmac('198.51.100.7', 'k1'));
    // More distinct addresses than are remembered: the memo is cleared and refilled.
    for (let i = 0; i < 30_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      expect(protectIp(ip, 'hmac', i % 2 ? 'k1' : 'k2')).toBe(hmac(ip, i % 2 ? 'k1' : 'k2'));
    }
    expect(protectIp('198.51.100.7', 'hmac', 'k1')).toBe(first);
    expect(protectIp('198.51.100.7', 'hmac', 'k2')).toBe(hmac('198.51.100.7', 'k2'));
  });

  it('I04 only a value shaped like our hash passes as already protected; an address sent as h:… is hashed', () => {
    const hashed = protectIp('203.0.113.9', 'hmac', 'k');
    expect(protectIp(hashed, 'hmac', 'k')).toBe(hashed);
    for (const sent of ['h:', 'h:203.0.113.9', `${hashed}x`]) {
      const out = protectIp(sent, 'hmac', 'k');
      expect(out).toMatch(/^h:[A-Za-z0-9_-]{22}$/);
      expect(out).not.toBe(sent);
    }
    expect(protectIp('h:203.0.113.9', 'truncated', 'k')).not.toContain('203.0.113.9');
  });
});
