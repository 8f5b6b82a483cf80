import { timeInputMs } from '../../domain/time-input.js';
import { HttpError } from '../errors.js';

/**
 * Parses an ISO time or Unix seconds into ms; throws a 400 naming the field otherwise, also
 * for a time before 1970 or after 9999 (`to=9000000000000` was a 500).
 */
export function parseTimeMs(text: string, field: string): number {
  const ms = timeInputMs(text);
  if (ms === null)
    throw new HttpError(400, 'invalid_request', `${field} must be an ISO time or Unix seconds`, [
      { field, message: 'is not a time between 1970 and 9999' },
    ]);
  return ms;
}
