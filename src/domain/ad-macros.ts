/**
 * Unexpanded ad-server macros. A pixel or click URL is a template the ad server fills in when
 * it serves the ad: `imp_id={imp_id}`, `[IMP_ID]`, `${CAMPAIGN_ID}`, `%%CACHEBUSTER%%`,
 * `__CAMPAIGN_ID__`, `%ecid!`. When the template is pasted into a place that does not expand
 * it (or with a macro that server does not know), every hit carries the same literal text:
 * stored as an id it would make all those hits one "person", and an event carrying it would
 * match every one of them. Such values are dropped and the hit says so.
 *
 * Forms (the ad servers that use them):
 * - `{name}`, `{{name}}`, `${NAME}`: Google Ads ValueTrack, Meta and Snap URL parameters,
 *   DV360, Xandr, AppLovin and most mobile networks;
 * - `[NAME]`: Campaign Manager 360 (`[timestamp]`), VAST (`[CACHEBUSTING]`), many DSPs;
 * - `%%NAME%%`: Google Ad Manager (`%%CACHEBUSTER%%`, `%%PATTERN:key%%`), The Trade Desk;
 * - `__NAME__`: TikTok (`__CAMPAIGN_ID__`, `__CID__`);
 * - `%name!`: Campaign Manager 360's escaped macros (`%ecid!`, `%eaid!`, `%ebuy!`).
 */

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const PERCENT = 0x25;
const UNDERSCORE = 0x5f;
const BANG = 0x21;

const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isAlnum = (c: number) => isLetter(c) || (c >= 0x30 && c <= 0x39);
/** What a macro's name is made of: letters, digits, `_`, `.`, `-` and `:` (`%%PATTERN:k%%`). */
const isNameChar = (c: number) =>
  isAlnum(c) || c === UNDERSCORE || c === 0x2e || c === 0x2d || c === 0x3a;

/** End (exclusive) of the run of characters passing `test` that starts at `from`. */
function runEnd(v: string, from: number, test: (c: number) => boolean): number {
  let i = from;
  while (i < v.length && test(v.charCodeAt(i))) i++;
  return i;
}

/** End of `NAME` in `__NAME__`: letters and digits, single underscores between them. */
function dunderNameEnd(v: string, from: number): number {
  let i = from;
  while (i < v.length) {
    const c = v.charCodeAt(i);
    if (isAlnum(c)) i++;
    else if (c === UNDERSCORE && isAlnum(v.charCodeAt(i + 1))) i += 2;
    else break;
  }
  return i;
}

/**
 * True when `v` holds an unexpanded macro anywhere (a partly filled template such as
 * `imp-{imp_id}` is as unusable as a bare one).
 *
 * Linear time: each opening character starts one forward scan, and a scan stops at the next
 * opening character of its own kind (a `{`/`[` name stops at `{`, `[` and `%`; a `%` name
 * stops at `%`; a `__` name stops at the next `__`), so each character is read by a bounded
 * number of scans (two `__` scans share a run only after `___`).
 */
export function isUnexpandedMacro(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const end = runEnd(v, i + 1, isNameChar);
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      if (end > i + 1 && v.charCodeAt(end) === close) return true;
    } else if (c === PERCENT && v.charCodeAt(i + 1) === PERCENT) {
      const end = runEnd(v, i + 2, isNameChar);
      if (end > i + 2 && v.charCodeAt(end) === PERCENT && v.charCodeAt(end + 1) === PERCENT)
        return true;
    } else if (c === PERCENT) {
      const end = runEnd(v, i + 1, isLetter);
      if (end > i + 1 && v.charCodeAt(end) === BANG) return true;
    } else if (c === UNDERSCORE && v.charCodeAt(i + 1) === UNDERSCORE) {
      const end = dunderNameEnd(v, i + 2);
      if (end > i + 2 && v.charCodeAt(end) === UNDERSCORE && v.charCodeAt(end + 1) === UNDERSCORE)
        return true;
    }
  }
  return false;
}

/** The `X-Pixeltrail-Warnings` entry of a parameter that held a macro. */
export function macroWarning(param: string): string {
  return `unexpanded_macro:${param}`;
}
