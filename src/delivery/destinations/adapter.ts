import type { TSchema } from '@sinclair/typebox';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { ClearUserField } from '../../domain/customer-info.js';
import type { DeliveryVerdict } from '../../domain/delivery-policy.js';
import type { ActionSource, TrackedEvent } from '../../domain/event.js';
import type { FieldError } from '../../domain/validation-error.js';
import type { ConversionRecord } from '../../store/store.js';

/** One HTTP request to a destination. */
export interface OutgoingRequest {
  url: string;
  /** DELETE: Meta's removal of audience members, whose body lists them. */
  method: 'POST' | 'GET' | 'DELETE';
  headers: Record<string, string>;
  /** Absent for GET. */
  body?: string;
  /**
   * Set for destinations made or edited through the admin API: the request may go only to
   * public addresses, unless `allow_private_destinations` says otherwise (guarded-send.ts).
   */
  publicOnly?: boolean;
}

/** The request as it is to be sent for `dest` (see `publicOnly`). */
export function requestFor(dest: DestinationConfig, req: OutgoingRequest): OutgoingRequest {
  return dest.from_api ? { ...req, publicOnly: true } : req;
}

/** What came back from a destination, or the network error instead. */
export type HttpResult =
  | {
      kind: 'response';
      status: number;
      retryAfter: string | null;
      bodyExcerpt: string;
      /** The response's Content-Type, when the sender read it. */
      contentType?: string | null;
    }
  | { kind: 'network'; error: string };

/** Sends one request; injected so tests and the worker share one seam (STYLE rule 11). */
export type HttpSend = (req: OutgoingRequest, timeoutMs: number) => Promise<HttpResult>;

/** One conversion to deliver, with the stored event it came from (identity, properties). */
export interface DeliveryItem {
  outbox_id: number;
  conversion: ConversionRecord;
  event: TrackedEvent;
}

/** What an adapter gets besides the items. */
export interface DeliveryContext<S> {
  /** The destination; `test_mode` is on when this request goes to the platform's test channel. */
  dest: DestinationConfig;
  settings: S;
  nowMs: number;
  /**
   * The test code the events of this request carry (`test_event_code` on the event), for a
   * platform whose test channel takes one when the destination configures none.
   */
  testCode?: string;
}

/** The outcome of one request, per item, with the platform's own words for the log. */
export interface Interpretation {
  verdicts: DeliveryVerdict[];
  detail: string | null;
}

/**
 * A destination type (STYLE rule 4): its settings schema (which also lists the secrets to
 * mask, marked `secret: true`), its batch limit, and how a batch of conversions becomes the
 * platform's documented request and how the platform's answer is read.
 */
export interface DestinationAdapter<S = Record<string, unknown>> {
  readonly type: string;
  /** TypeBox schema of the type-specific config fields. */
  readonly settingsSchema: TSchema;
  /** Most conversions one request may carry (the platform's documented limit). */
  readonly maxBatch: number;
  /** A lower limit for this destination's settings (e.g. a test channel showing one event). */
  maxBatchFor?(dest: DestinationConfig, settings: S): number;
  /**
   * Rules between settings fields that the schema cannot say (one of two ids, by version);
   * called with settings that passed the schema. Fields are relative to the settings.
   */
  checkSettings?(settings: S): FieldError[];
  /**
   * The name and address fields the platform takes in clear or hashes its own way (Google Ads
   * `addressInfo`, LinkedIn `userInfo`): ingest keeps the clear values the event brought on this
   * destination's outbox rows only, and they reach `buildRequest` as `event.clear_user`; they are
   * dropped once the row is done. Absent: the platform gets the stored hashes only.
   */
  readonly clearUser?: readonly ClearUserField[];
  /** The platform's public API host, used when `base_url` is not set. */
  readonly defaultBaseUrl: string | null;
  /**
   * The oldest event (seconds) the platform takes from this action source; absent means no
   * limit of its own (DEFAULT_LATE_EVENT_AGE_S applies). Ingest accepts an event as old as the
   * longest limit among its destinations; `refuse` holds each to its own.
   */
  maxEventAgeS?(source: ActionSource | undefined): number;
  /** Why the platform would refuse this conversion outright (e.g. too old), or null. */
  refuse?(item: DeliveryItem, ctx: DeliveryContext<S>): string | null;
  /**
   * Why the platform cannot match this conversion to a person (it carries no identifier the
   * platform accepts), or null. `refuse` gives the same reason, as its last check; the worker
   * marks such a row as failed for identifiers, and a later copy of the event that brings some
   * queues it again (issue 20, docs/delivery.md).
   */
  unmatchable?(item: DeliveryItem, ctx: DeliveryContext<S>): string | null;
  /**
   * For a platform that merges a conversion sent again under the same event id into the one it
   * holds: the match keys it would receive for this item. A later copy of the event that adds
   * one sends the delivered conversion again. Absent: a delivered conversion is never re-sent.
   */
  updateKeys?(item: DeliveryItem): string[];
  /**
   * The platform's test or validation channel for this destination — where nothing counts as
   * a real conversion — in words (`Meta Test Events (test_event_code TEST1)`), or null when it
   * has none for these settings (and `testCode`, an event's own code). With `test_mode` on in
   * the context, `buildRequest` sends there. Absent: the platform has none.
   */
  testChannel?(settings: S, testCode?: string): string | null;
  buildRequest(items: DeliveryItem[], ctx: DeliveryContext<S>): OutgoingRequest;
  /** Reads the answer; without it, the status class decides for every item (DESIGN §7). */
  interpret?(result: HttpResult, items: DeliveryItem[], nowMs: number): Interpretation;
}
