/** SQLSTATE of a serialization failure and of a deadlock. */
const CONFLICT_CODES = new Set(['40001', '40P01']);

/**
 * Whether PostgreSQL aborted a transaction for a deadlock or a serialization failure: a
 * concurrent transaction won, and running it again then usually commits.
 */
export function isTransactionConflict(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFLICT_CODES.has(code);
}
