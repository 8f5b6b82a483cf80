import { describe, expect, it } from 'vitest';
import { tcfString } from '../../test/helpers/tcf.js';
import { toBits } from './consent-bits.js';
import { checkTcf } from './consent-strings.js';
import { tcfRangeIdsWithin } from './tcf-ranges.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const bin = (v: number, n: number) => v.toString(2).padStart(n, '0');
function fromBits(bits: string): string {
  const padded = bits.padEnd(Math.ceil(bits.length / 6) * 6, '0');
  let s = '';
  for (let i = 0; i < padded.length; i += 6)
    s += B64URL[Number.parseInt(padded.slice(i, i + 6), 2)];
  return s;
}
/** `n` range entries, each naming every vendor id 1-65535 (they overlap). */
const fullRanges = (n: number) => bin(n, 12) + `1${bin(1, 16)}${bin(65_535, 16)}`.repeat(n);

/** A real core segment whose vendor consent section is replaced by `n` full ranges. */
function coreWithRanges(n: number): string {
  const real = toBits(tcfString([1]).split('.')[0]) as string;
  return fromBits(`${real.slice(0, 213)}${bin(65_535, 16)}1${fullRanges(n)}${'0'.repeat(64)}`);
}

describe('TCF decoding cost', () => {
  it('TR01 real strings are within the budget', () => {
    for (const tc of [tcfString([1]), tcfString([1, 2], [1, 755, 4242])])
      expect(tcfRangeIdsWithin(tc, 4 * 65_536)).toBe(true);
  });

  it('TR02 overlapping full ranges in the vendor consents are refused before decoding', () => {
    expect(tcfRangeIdsWithin(coreWithRanges(2), 4 * 65_536)).toBe(true);
    expect(tcfRangeIdsWithin(coreWithRanges(5), 4 * 65_536)).toBe(false);
    // 200 such ranges (1.2 KB) took the IAB decoder 625 ms; 8 KB holds 1,480 of them.
    expect(checkTcf(coreWithRanges(200), null)).toEqual({ ok: false, reason: 'tcf_invalid' });
  });

  it('TR03 the disclosed vendors segment counts too', () => {
    const disclosed = fromBits(`001${bin(65_535, 16)}1${fullRanges(5)}`);
    expect(tcfRangeIdsWithin(`${tcfString([1])}.${disclosed}`, 4 * 65_536)).toBe(false);
    expect(tcfRangeIdsWithin(`${tcfString([1])}.${disclosed}`, 6 * 65_536)).toBe(true);
  });

  it('TR04 truncated and foreign text passes to the decoder, which refuses it', () => {
    for (const bad of ['', 'C', 'CQ!!', '....', 'A'.repeat(100)])
      expect(tcfRangeIdsWithin(bad, 10)).toBe(true);
  });
});
