import type { EnvironmentConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { CopySources } from './copy-sources.js';
import type { AppLookup } from './eligibility.js';
import type { PlatformTraits } from './late-copy.js';

// What the batch processor (processBatch in ingest-pipeline.ts) is given and answers, shared by its parts.

/** One write of the ingest path. */
export type IngestItem = { kind: 'touch'; touch: Touch } | { kind: 'event'; event: TrackedEvent };

/** What became of one event. */
export type EventOutcome =
  | {
      status: 'accepted';
      pk: string;
      conversions: number;
      /**
       * Outbox rows it queued. Ingest wakes the delivery worker only when a commit queued
       * some: a claim round costs more CPU than the commit of a small batch.
       */
      deliveries: number;
      /** The install fraud checks that fired for its conversions (metrics count them). */
      fraud?: string[];
    }
  | { status: 'duplicate'; of: string };

/** What the batch processor needs besides the transaction. */
export interface BatchContext {
  environment: (env_id: string) => EnvironmentConfig | undefined;
  nowMs: number;
  newId: (prefix: string) => string;
  /**
   * Awaited between two events of the batch: the pipeline lets other work run there when
   * the batch has held the thread long enough (SQLite runs a batch synchronously).
   */
  between?: () => Promise<void> | undefined;
  /** What ingest needs of the platforms (test channels, updates); absent: none have them. */
  platforms?: PlatformTraits;
  /** Which side sends which event name, for `merge_window: auto`; absent: always hold. */
  copies?: CopySources;
  /** The config's `apps`: whether an event's app is an iOS app (eligibility.ts). */
  apps?: AppLookup;
}

/** The clock, platform traits and apps the conversion writers take from the context. */
export type Timing = Pick<BatchContext, 'nowMs' | 'platforms' | 'copies' | 'apps'>;
