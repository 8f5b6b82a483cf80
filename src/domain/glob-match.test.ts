import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cheapestCpuMs } from '../../test/helpers/cpu-time.js';
import { globMatcher } from './glob-match.js';

/** The regular expression a glob used to become: the reference for what matches. */
function globRegExp(pattern: string, anyChar: boolean): RegExp {
  const special = anyChar ? /[.+^${}()|[\]\\]/g : /[.+?^${}()|[\]\\]/g;
  let body = pattern.replace(special, '\\$&').replace(/\*/g, '[^]*');
  if (anyChar) body = body.replace(/\?/g, '[^]');
  return new RegExp(`^${body}$`);
}

const MB = 1024 * 1024;
/**
 * Far above a linear pass over a megabyte (10-110 ms of CPU, depending on the shape and how
 * busy the box is), far below a quadratic one (minutes). A tighter bound failed a linear
 * scan on a loaded clean-clone run (110 ms against 100).
 */
const LINEAR_CPU_MS = 1000;

describe('globMatcher', () => {
  it('GM01 matches exactly what the anchored regular expression matches', () => {
    const chars = fc.constantFrom('a', 'b', '/', '.', '?', '*');
    const word = (max: number) => fc.array(chars, { maxLength: max }).map((c) => c.join(''));
    for (const anyChar of [true, false]) {
      fc.assert(
        fc.property(word(8), word(16), (pattern, text) => {
          const t = text.replaceAll('*', 'c');
          expect(globMatcher(pattern, { anyChar })(t)).toBe(globRegExp(pattern, anyChar).test(t));
        }),
        { numRuns: 3000 },
      );
    }
  });

  it('GM02 `?` pieces longer than 32 characters match across words', () => {
    const piece = `${'a'.repeat(40)}?${'b'.repeat(30)}`;
    const matches = globMatcher(`*${piece}*`, { anyChar: true });
    expect(matches(`xx${'a'.repeat(40)}Z${'b'.repeat(30)}yy`)).toBe(true);
    expect(matches(`xx${'a'.repeat(40)}Z${'b'.repeat(29)}`)).toBe(false);
  });

  it('GM03 a newline is a character like any other', () => {
    expect(globMatcher('/products/*', { anyChar: true })('/products/a\nb')).toBe(true);
  });

  it('GM04 a glob of many stars matches a megabyte in linear time', async () => {
    const texts = ['a'.repeat(MB), `${'a'.repeat(MB)}c`, 'ab'.repeat(MB / 2)];
    const patterns = ['*a*a*a*a*a*a*b', '*a?a?a*a?b*c', `*${'a?'.repeat(40)}b*`, 'a*a*a*a*a*x'];
    for (const pattern of patterns) {
      for (const anyChar of [true, false]) {
        const matches = globMatcher(pattern, { anyChar });
        for (const text of texts) {
          const cpu = await cheapestCpuMs(() => matches(text));
          expect(cpu, `${pattern} on ${text.slice(0, 8)}…`).toBeLessThan(LINEAR_CPU_MS);
        }
      }
    }
  });
});
