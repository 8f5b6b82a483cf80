import type { ArrivalError } from '../../ingest/ingest.js';
import type { Services } from '../services.js';

/** Counts the events a request carried that could not be used, once each however many errors. */
export function countInvalid(s: Services, endpoint: string, errors: readonly ArrivalError[]): void {
  if (errors.length === 0) return;
  const events = new Set(errors.map((e) => e.index)).size;
  s.metrics.invalidHits.inc({ endpoint, reason: 'invalid_event' }, events);
}
