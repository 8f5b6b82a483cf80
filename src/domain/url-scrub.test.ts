import { describe, expect, it } from 'vitest';
import { expectLinearCpu } from '../../test/helpers/cpu-time.js';
import { scrubUrl } from './url-scrub.js';

const MB = 1024 * 1024;

describe('scrubUrl', () => {
  it('U01 drops PII-named parameters and email-looking values, keeps the rest', () => {
    expect(
      scrubUrl(
        'https://shop.example/thanks?order=42&email=a%40b.com&Phone=%2B33612345678&utm_source=x',
      ),
    ).toBe('https://shop.example/thanks?order=42&utm_source=x');
    expect(scrubUrl('https://shop.example/?u=someone@example.org&page=2')).toBe(
      'https://shop.example/?page=2',
    );
    expect(scrubUrl('https://shop.example/#first_name=Ann&tab=1')).toBe(
      'https://shop.example/#tab=1',
    );
  });

  it('U02 leaves clean URLs byte for byte, removes credentials', () => {
    const clean = 'https://shop.example/p?id=7&utm_campaign=spring';
    expect(scrubUrl(clean)).toBe(clean);
    expect(scrubUrl('https://user:pw@shop.example/')).toBe('https://shop.example/');
    expect(scrubUrl('not a url but a@b.com inside')).not.toContain('a@b.com');
  });

  it('U03 a megabyte URL of any shape is scrubbed in linear time', async () => {
    /** `n / 20` query parameters, each with an e-mail address: about n characters. */
    const emailsOf = (n: number) =>
      Array.from({ length: n / 20 }, (_, i) => `k${i}=a@b.cd&x${i}=1`).join('&');
    const emails = emailsOf(MB);
    const shapes: Array<(n: number) => string> = [
      (n) => `https://shop.example/?q=${'x'.repeat(n)}`,
      (n) => 'x'.repeat(n),
      (n) => `https://shop.example/?q=a@${'a.'.repeat(n / 2)}`,
      (n) => `https://shop.example/?${emailsOf(n)}`,
      (n) => `https://shop.example/#${emailsOf(n)}`,
      (n) => `not a url ${'a@b.cd '.repeat(n / 7)}`,
    ];
    for (const make of shapes) {
      const url = make(MB);
      await expectLinearCpu(url.slice(0, 40), make, scrubUrl, MB);
      expect(scrubUrl(url)).not.toContain('a@b.cd');
    }
    expect(scrubUrl(`https://shop.example/?${emails}`)).toContain('x49999=1');
  });
});
