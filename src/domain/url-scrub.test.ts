import { describe, expect, it } from 'vitest';
import { scrubUrl } from './url-scrub.js';

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
});
