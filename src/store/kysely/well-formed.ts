// PostgreSQL receives text as UTF-8, where a lone surrogate (a JSON body may carry one) has
// no encoding: a text parameter's encoder writes U+FFFD for it. Where a string is sent as
// part of a JSON parameter, or compared in memory with what the store holds, it is mended
// the same way first.

const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with each lone surrogate replaced by U+FFFD, as PostgreSQL would store it. */
export function wellFormed(s: string): string {
  return SURROGATE.test(s) ? s.replace(LONE_SURROGATE, '\ufffd') : s;
}
