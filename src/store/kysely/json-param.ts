import { wellFormed } from '../../domain/validation-fields.js';

// PostgreSQL's set-wise statements take their rows as one JSON parameter each.

/**
 * Rows per statement. Each statement takes its rows as one JSON parameter, so its text is
 * the same whatever the count (and prepared); this bounds what one parameter holds.
 */
export const ROWS_PER_STATEMENT = 1000;

/** A `\ud800`-`\udfff` escape: JSON.stringify writes one only for a lone surrogate. */
const SURROGATE_ESCAPE = /\\ud[89a-f]/i;

/**
 * `rows` as one JSON parameter. A lone surrogate (a JSON body may carry one) becomes U+FFFD,
 * as it does in a text parameter's UTF-8; left as JSON.stringify escapes it, PostgreSQL
 * refuses it when reading the JSON into text columns, failing the batch.
 */
export function jsonParam(rows: unknown): string {
  const json = JSON.stringify(rows);
  if (!SURROGATE_ESCAPE.test(json)) return json;
  return JSON.stringify(rows, (_key, v: unknown) => (typeof v === 'string' ? wellFormed(v) : v));
}
