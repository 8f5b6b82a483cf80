import type { DestinationConfig } from '../domain/config-types.js';
import type { ClearUserField } from '../domain/customer-info.js';
import type { TrackedEvent } from '../domain/event.js';
import type { ConversionRecord } from '../store/store.js';

/** What ingest must know of a destination's platform (from its adapter; see server wiring). */
export interface PlatformTraits {
  /**
   * The match keys the platform would receive for this conversion, when it merges a conversion
   * sent again under the same event id into the one it holds (Meta, TikTok); null when it
   * does not, and a delivered conversion is left alone.
   */
  updateKeys(
    dest: DestinationConfig,
    item: { conversion: ConversionRecord; event: TrackedEvent },
  ): string[] | null;
  /** Whether the destination's platform has a test channel for events carrying this code. */
  testChannel(dest: DestinationConfig, testCode: string): boolean;
  /** The clear name and address fields the platform needs on the outbox row; absent: none. */
  clearUser?(dest: DestinationConfig): readonly ClearUserField[];
}
