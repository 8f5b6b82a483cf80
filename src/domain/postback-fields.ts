import { COARSE_VALUES, type CoarseValue } from './apple-postback.js';

/** The fine conversion value is 6 bits. */
export const MAX_FINE_VALUE = 63;
/** Postbacks come from three conversion windows, 0 to 2 (SKAdNetwork 4, AdAttributionKit). */
export const MAX_SEQUENCE_INDEX = 2;
/** Identifiers longer than this are not Apple's (a UUID is 36, a domain at most 253). */
const MAX_ID_CHARS = 256;

export type Body = Record<string, unknown>;

/** Reads fields of a body, collecting the first problem. */
export class Fields {
  problem: string | null = null;
  constructor(private readonly o: Body) {}

  private bad(key: string, what: string): null {
    this.problem ??= `${key} ${what}`;
    return null;
  }

  text(key: string, required: boolean): string | null {
    const v = this.o[key];
    if (v === undefined || v === null) return required ? this.bad(key, 'is missing') : null;
    if (typeof v !== 'string' || v === '' || v.length > MAX_ID_CHARS)
      return this.bad(key, 'must be a non-empty string');
    return v;
  }

  /** A whole number ≥ 0, sent as a JSON number or as its digits; kept as its digits. */
  digits(key: string, required: boolean): string | null {
    const v = this.o[key];
    if (v === undefined || v === null) return required ? this.bad(key, 'is missing') : null;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
    if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) return v;
    return this.bad(key, 'must be a whole number');
  }

  int(key: string, max: number): number | null {
    const d = this.digits(key, false);
    if (d === null) return null;
    const n = Number(d);
    return n <= max ? n : this.bad(key, `must be at most ${max}`);
  }

  /** A Boolean, or the strings `true`/`false` a forwarder may have turned it into. */
  bool(key: string, required: boolean): boolean | null {
    const v = this.o[key];
    if (v === undefined || v === null) return required ? this.bad(key, 'is missing') : null;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    return this.bad(key, 'must be true or false');
  }

  coarse(key: string): CoarseValue | null {
    const v = this.o[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string' && (COARSE_VALUES as readonly string[]).includes(v))
      return v as CoarseValue;
    return this.bad(key, 'must be low, medium or high');
  }
}
