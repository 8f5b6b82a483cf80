import type { DestinationConfig } from '../domain/config-types.js';
import type { DeliveryVerdict } from '../domain/delivery-policy.js';
import type { ClaimedJob } from '../store/store.js';
import type { HttpResult, OutgoingRequest } from './destinations/adapter.js';

/**
 * A kind of outbox job other than a conversion (an audience add or remove batch): one
 * request each, sent by the delivery worker under the same lease, retry policy, attempt
 * log and dead-letter as conversions.
 */
export interface JobHandler {
  readonly kind: string;
  /** Why this job must not go out now (it fails, and can be retried by hand), or null. */
  refuse?(job: ClaimedJob, dest: DestinationConfig): Promise<string | null>;
  buildRequest(job: ClaimedJob, dest: DestinationConfig): OutgoingRequest;
  /** What of a delivered job's payload is kept (e.g. counts, not the hashed ids it sent). */
  kept?(job: ClaimedJob): unknown;
  /** Reads the platform's answer into the delivery policy's verdict. */
  interpret(result: HttpResult, dest: DestinationConfig, nowMs: number): DeliveryVerdict;
}
