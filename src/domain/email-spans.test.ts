import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cheapestCpuMs } from '../../test/helpers/cpu-time.js';
import {
  containsEmail,
  type EmailShape,
  eachEmail,
  isSpace,
  replaceEmails,
} from './email-spans.js';
import { EMAIL_IN_TEXT } from './redact-text.js';
import { EMAIL_IN_URL } from './url-scrub.js';

/** The regular expressions the scans replace, and the shapes that stand for them. */
const SHAPES: Array<[string, RegExp, EmailShape]> = [
  ['url-scrub', /[^\s@]+@[^\s@/?&=#]+\.[a-z]{2,}/gi, EMAIL_IN_URL],
  ['redact-text', /[^\s@"<>()[\],;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, EMAIL_IN_TEXT],
];

/** Text made of the characters that decide a match, so the property finds the edge cases. */
const text = fc
  .array(
    fc.constantFrom(
      'a',
      'B',
      'z',
      '1',
      '.',
      '@',
      ' ',
      '\u00a0',
      '/',
      '?',
      '=',
      ';',
      '"',
      '-',
      'é',
      'K',
      'ſ',
    ),
    {
      maxLength: 40,
    },
  )
  .map((cs) => cs.join(''));

const MB = 1024 * 1024;
/**
 * Far above a linear pass over a megabyte (10-110 ms of CPU, depending on the shape and how
 * busy the box is), far below a quadratic one (minutes). A tighter bound failed a linear
 * scan on a loaded clean-clone run (110 ms against 100).
 */
const LINEAR_CPU_MS = 1000;

describe('eachEmail', () => {
  it('E01 finds exactly what the regular expression found, on any text', () => {
    for (const [, re, shape] of SHAPES) {
      fc.assert(
        fc.property(text, (t) => {
          const expected = [...t.matchAll(re)].map((m) => [m.index, m.index + m[0].length]);
          const spans: number[][] = [];
          eachEmail(t, shape, (start, end) => spans.push([start, end]));
          expect(spans).toEqual(expected);
          expect(containsEmail(t, shape)).toBe(expected.length > 0);
          expect(replaceEmails(t, shape, '[email]')).toBe(t.replace(re, '[email]'));
        }),
        { numRuns: 2000 },
      );
    }
  });

  it('E02 a megabyte of any shape is scanned in linear time', async () => {
    const texts = [
      'x'.repeat(MB),
      'a@'.repeat(MB / 2),
      `a@${'a.'.repeat(MB / 2)}`,
      `${'a'.repeat(MB / 2)}@${'b'.repeat(MB / 2)}`,
      'a@b.c '.repeat(MB / 6),
      'a@b.cd'.repeat(MB / 6),
    ];
    for (const [name, , shape] of SHAPES) {
      for (const t of texts) {
        const cpu = await cheapestCpuMs(() => {
          replaceEmails(t, shape, '');
          containsEmail(t, shape);
        });
        expect(cpu, `${name} on ${t.slice(0, 12)}…`).toBeLessThan(LINEAR_CPU_MS);
      }
    }
  });

  it("E03 isSpace is JavaScript's \\s, code unit by code unit", () => {
    for (let c = 0; c <= 0xffff; c++)
      expect(isSpace(c), c.toString(16)).toBe(/\s/.test(String.fromCharCode(c)));
  });
});
