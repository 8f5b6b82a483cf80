/** A parsed query string, as Fastify and fast-querystring give it. */
export type Query = Record<string, string | string[] | undefined>;

/** Longest parameter value a pixel or link keeps; longer ones are absent (and warned of). */
export const MAX_PARAM_CHARS = 256;

/** The first value of a query parameter, or undefined when absent or empty. */
export function queryValue(q: Query, key: string): string | undefined {
  const raw = q[key];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * A pixel's or link's parameter: its first value, or undefined when absent, empty or too
 * long. A `%00` becomes U+FFFD: PostgreSQL's text cannot hold U+0000, and one such touch
 * would fail the group commit of every hit queued with it.
 */
export function param(q: Query, key: string): string | undefined {
  const v = queryValue(q, key);
  if (v === undefined || v.length > MAX_PARAM_CHARS) return undefined;
  return v.includes('\u0000') ? v.replaceAll('\u0000', '\ufffd') : v;
}

/** Whether a parameter was sent but is over MAX_PARAM_CHARS. */
export function tooLong(q: Query, key: string): boolean {
  const v = queryValue(q, key);
  return v !== undefined && v.length > MAX_PARAM_CHARS;
}
