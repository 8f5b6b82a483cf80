/**
 * Bit-level reading of the IAB's base64url consent strings (TCF, GPP): fixed-width integers
 * and GPP's Fibonacci-coded ones. Every read is bounded by the string: past its end it answers
 * null instead of throwing.
 */
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A base64url string as a string of '0'/'1', or null when it has a foreign character. */
export function toBits(text: string): string | null {
  let bits = '';
  for (const ch of text) {
    const v = B64URL.indexOf(ch);
    if (v < 0) return null;
    bits += v.toString(2).padStart(6, '0');
  }
  return bits;
}

/** Reads fixed-width integers and GPP's Fibonacci-coded ones (ended by `11`) from bits. */
export class BitReader {
  pos = 0;
  constructor(private readonly bits: string) {}
  /** Skips `n` bits; false when fewer are left. */
  skip(n: number): boolean {
    this.pos += n;
    return this.pos <= this.bits.length;
  }
  int(n: number): number | null {
    if (this.pos + n > this.bits.length) return null;
    const v = Number.parseInt(this.bits.slice(this.pos, this.pos + n), 2);
    this.pos += n;
    return v;
  }
  fibonacci(): number | null {
    const fib = [1, 2];
    let value = 0;
    let prev = '';
    for (let i = 0; this.pos < this.bits.length; i++) {
      const bit = this.bits[this.pos++];
      if (bit === '1' && prev === '1') return value;
      if (i >= fib.length) fib.push(fib[i - 1] + fib[i - 2]);
      if (bit === '1') value += fib[i];
      prev = bit;
      if (i > 40) return null;
    }
    return null;
  }
}
