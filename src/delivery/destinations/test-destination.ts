// What the adapters' tests build requests from: a destination with every field a parsed
// config has (the parser's defaults, a loopback base URL, what the test gives), and a
// conversion as the delivery worker hands it over.
import type { DestinationConfig } from '../../config/config-types.js';
import type { EventProperties, EventSource, UserKeys } from '../../domain/event.js';
import type { DeliveryItem } from '../destination.js';

/** A destination as the config parser makes it; `over` names its id, type and settings. */
export function testDestination(
  over: Partial<DestinationConfig> & Pick<DestinationConfig, 'id' | 'type'>,
): DestinationConfig {
  return {
    events: ['Purchase'],
    event_map: {},
    click_window_ms: 7 * 86_400_000,
    view_window_ms: 86_400_000,
    probabilistic_click_window_ms: 86_400_000,
    probabilistic_view_window_ms: 86_400_000,
    attributed_only: true,
    retry: { baseMs: 1000, maxAgeMs: 86_400_000, maxAttempts: 10 },
    timeout_ms: 10_000,
    batch: { size: 1, max_wait_ms: 0 },
    test_mode: false,
    base_url: 'http://127.0.0.1:9',
    settings: {},
    ...over,
  };
}

/** What a test changes of the conversion it sends. */
export interface TestItemOptions {
  name?: string;
  id?: string;
  /** Unix seconds; ten minutes before `nowS` by default. */
  time?: number;
  user?: UserKeys;
  props?: EventProperties;
}

/** A conversion to `dest_id` as the delivery worker hands it to the adapter. */
export function testItem(
  base: {
    dest_id: string;
    source: EventSource;
    nowS: number;
    user: UserKeys;
    props: EventProperties;
  },
  over: TestItemOptions = {},
): DeliveryItem {
  const name = over.name ?? 'Purchase';
  const id = over.id ?? 'ord-1';
  const time = over.time ?? base.nowS - 600;
  const properties = over.props ?? base.props;
  return {
    outbox_id: 1,
    event: {
      env_id: 'env_t',
      event_name: name,
      event_id: id,
      event_time: time,
      source: base.source,
      user: over.user ?? base.user,
      properties,
      consent: { ads: true, analytics: null },
      warnings: [],
    },
    conversion: {
      conversion_id: `cv-${id}`,
      dest_id: base.dest_id,
      env_id: 'env_t',
      event_pk: `pk-${id}`,
      event_name: name,
      event_id: id,
      event_time: time,
      value: typeof properties.value === 'number' ? properties.value : null,
      currency: properties.currency ?? null,
      attribution: null,
      reason: 'n/a',
      created_at_ms: base.nowS * 1000,
    },
  };
}
