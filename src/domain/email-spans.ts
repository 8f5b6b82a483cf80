/**
 * Emails inside free text, found in time linear in the text. An unanchored regular expression
 * such as `/[^\s@]+@…/` tries every start position and scans to the next `@` from each, so a
 * 63,000-character URL without one cost 2.5 s of CPU; here the scan starts only at each `@`,
 * and the stretches read on either side of two different `@` never overlap (neither side may
 * contain an `@`).
 */

/** What counts as an email in one kind of text. */
export interface EmailShape {
  /** Whether a UTF-16 code unit may be part of the local part (before the `@`); never `@`. */
  localChar: (code: number) => boolean;
  /**
   * Whether it may be part of the domain (never `@`); the domain must end in a `.` and two
   * ASCII letters or more, with something before that dot.
   */
  domainChar: (code: number) => boolean;
}

const AT = 0x40;

/** JavaScript's `\s`: the white space and line terminators of ECMA-262. */
export function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** A to Z in either case. */
export const isAsciiLetter = (c: number): boolean => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
const DOT = 0x2e;

/**
 * The end of the domain starting at `from` (what `/[D]+\.[a-z]{2,}/iy` matches, D the domain
 * characters: up to the letters after the last dot that two letters follow), or -1. One pass
 * forward, where the expression backtracked over the whole run once more.
 */
function domainEnd(text: string, from: number, domainChar: (c: number) => boolean): number {
  let end = -1;
  // The last dot with only letters after it so far (not the first character), else -1.
  let dot = -1;
  let i = from;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!domainChar(c)) break;
    if (isAsciiLetter(c)) continue;
    if (dot >= 0 && i - dot > 2) end = i;
    dot = c === DOT && i > from ? i : -1;
  }
  if (dot >= 0 && i - dot > 2) end = i;
  return end;
}

/** Any character but white space and `@`: the loosest local part. */
export const notSpaceOrAt = (c: number): boolean => c !== AT && !isSpace(c);

/** Calls `found(start, end)` for each email in `text`, left to right, not overlapping. */
export function eachEmail(
  text: string,
  shape: EmailShape,
  found: (start: number, end: number) => void,
): void {
  let lastEnd = 0;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    if (at <= lastEnd || !shape.localChar(text.charCodeAt(at - 1))) continue;
    const end = domainEnd(text, at + 1, shape.domainChar);
    if (end < 0) continue;
    let start = at - 1;
    while (start > lastEnd && shape.localChar(text.charCodeAt(start - 1))) start--;
    lastEnd = end;
    found(start, end);
  }
}

/** Whether `text` holds an email of this shape. */
export function containsEmail(text: string, shape: EmailShape): boolean {
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    if (at === 0 || !shape.localChar(text.charCodeAt(at - 1))) continue;
    if (domainEnd(text, at + 1, shape.domainChar) >= 0) return true;
  }
  return false;
}

/** `text` with each email replaced by `by`. */
export function replaceEmails(text: string, shape: EmailShape, by: string): string {
  let out = '';
  let from = 0;
  eachEmail(text, shape, (start, end) => {
    out += text.slice(from, start) + by;
    from = end;
  });
  return from === 0 ? text : out + text.slice(from);
}
