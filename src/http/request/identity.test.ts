import { describe, expect, it } from 'vitest';
import { browserIdCookie } from './identity.js';

describe('ptid cookie attributes', () => {
  it('CK01 HTTPS: SameSite=None; Secure, HttpOnly, a year', () => {
    expect(browserIdCookie('abcdefgh', { https: true, partitioned: false })).toBe(
      'ptid=abcdefgh; Max-Age=31536000; Path=/; HttpOnly; SameSite=None; Secure',
    );
  });

  it('CK02 HTTPS with cookie_partitioned adds Partitioned (CHIPS)', () => {
    expect(browserIdCookie('abcdefgh', { https: true, partitioned: true })).toMatch(
      /; HttpOnly; SameSite=None; Secure; Partitioned$/,
    );
  });

  it('CK03 plain HTTP (localhost too): SameSite=Lax, never Secure or Partitioned', () => {
    for (const partitioned of [false, true]) {
      const cookie = browserIdCookie('abcdefgh', { https: false, partitioned });
      expect(cookie).toMatch(/; HttpOnly; SameSite=Lax$/);
      expect(cookie).not.toMatch(/Secure|Partitioned|SameSite=None/);
    }
  });
});
