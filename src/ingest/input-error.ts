/**
 * An error thrown by JavaScript itself (a stack overflow, a property of undefined): our own
 * code failing on some input. Store errors (SQLITE_FULL, a lost connection, a PostgreSQL
 * error) are not of these kinds.
 */
export function isInputError(e: unknown): boolean {
  return e instanceof RangeError || e instanceof TypeError || e instanceof SyntaxError;
}
