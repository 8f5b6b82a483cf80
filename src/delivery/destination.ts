import type { DestinationConfig } from '../config/config-types.js';
import type { ConversionRecord } from '../store/store.js';

/** One HTTP request to a destination, built from a conversion. */
export interface OutgoingRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/** What came back from a destination, or the network error instead. */
export type HttpResult =
  | { kind: 'response'; status: number; retryAfter: string | null; bodyExcerpt: string }
  | { kind: 'network'; error: string };

/** Sends one request; injected so tests and the worker share one seam (STYLE rule 11). */
export type HttpSend = (req: OutgoingRequest, timeoutMs: number) => Promise<HttpResult>;

/** A destination type: turns a conversion into the platform's documented request. */
export interface DestinationAdapter {
  readonly type: DestinationConfig['type'];
  buildRequest(conversion: ConversionRecord, dest: DestinationConfig): OutgoingRequest;
}
