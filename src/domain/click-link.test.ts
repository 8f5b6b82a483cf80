import { describe, expect, it } from 'vitest';
import { decideRedirect, signClick, verifyClick, withClickId } from './click-link.js';

const hosts = ['shop.example', '*.cdn.example'];

describe('click redirect safety', () => {
  it('C01 an allowed host redirects to the normalized URL', () => {
    expect(decideRedirect('https://shop.example/p/1', false, hosts)).toEqual({
      ok: true,
      location: 'https://shop.example/p/1',
    });
    expect(decideRedirect('https://img.cdn.example/x', false, hosts).ok).toBe(true);
  });

  it.each([
    ['foreign host', 'https://evil.example/phish'],
    ['lookalike suffix', 'https://shop.example.evil.com/'],
    ['userinfo trick', 'https://shop.example@evil.com/'],
    ['backslash trick', 'https:\\\\evil.com/'],
    ['protocol-relative', '//evil.com/'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['data scheme', 'data:text/html,hi'],
    ['bare cdn apex is not a subdomain', 'https://evilcdn.example/'],
  ])('C02 refuses %s', (_name, url) => {
    expect(decideRedirect(url, false, hosts).ok).toBe(false);
  });

  it('C03 a signed link may go to any http(s) host, but never to another scheme', () => {
    expect(decideRedirect('https://elsewhere.example/', true, hosts).ok).toBe(true);
    expect(decideRedirect('javascript:alert(1)', true, hosts).ok).toBe(false);
  });

  it('C04 the signature covers every parameter regardless of order', () => {
    const params = { env_id: 'e', click_id: 'c', url: 'https://x.example/' };
    const sig = signClick('k', params);
    expect(verifyClick('k', { url: 'https://x.example/', click_id: 'c', env_id: 'e', sig })).toBe(
      true,
    );
    expect(verifyClick('k', { ...params, url: 'https://evil.example/', sig })).toBe(false);
    expect(verifyClick('other', { ...params, sig })).toBe(false);
    expect(verifyClick('k', { ...params, sig: 'zz' })).toBe(false);
  });

  it.each([
    ['https://s.example/', 'https://s.example/?pt_click_id=K%201'],
    ['https://s.example/a?b=%zz&c=d+e#f', 'https://s.example/a?b=%zz&c=d+e&pt_click_id=K%201#f'],
    ['https://s.example/?pt%5Fclick%5Fid=old&x', 'https://s.example/?x&pt_click_id=K%201'],
    ['https://s.example/?pt_click_id', 'https://s.example/?pt_click_id=K%201'],
  ])('C05 withClickId(%s) keeps the rest of the URL and replaces an earlier id', (url, want) => {
    expect(withClickId(url, 'pt_click_id', 'K 1')).toBe(want);
  });
});
