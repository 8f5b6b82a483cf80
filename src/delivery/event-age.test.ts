import { describe, expect, it } from 'vitest';
import { testDestination } from '../../test/fixtures/destination.js';
import type { EnvironmentConfig } from '../domain/config-types.js';
import { DEFAULT_LATE_EVENT_AGE_S, eventAgeLimitS } from './event-age.js';

const DAY_S = 86_400;

const env = (...dests: Array<[string, string[]]>) =>
  ({
    destinations: dests.map(([type, events], i) => testDestination({ id: `d${i}`, type, events })),
  }) as unknown as EnvironmentConfig;

describe('how old an event may be', () => {
  it('EA01 the longest window among the destinations that get the event', () => {
    const e = env(['meta', ['Purchase']], ['google_ads', ['Purchase']], ['tiktok', ['Lead']]);
    expect(eventAgeLimitS(e, 'Purchase', 'website')).toBe(90 * DAY_S);
    expect(eventAgeLimitS(e, 'Lead', undefined)).toBe(28 * DAY_S);
  });

  it('EA02 Meta alone: 7 days for the web, 62 for store sales and system-generated events', () => {
    const e = env(['meta', ['Purchase']]);
    expect(eventAgeLimitS(e, 'Purchase', 'website')).toBe(7 * DAY_S);
    expect(eventAgeLimitS(e, 'Purchase', 'physical_store')).toBe(62 * DAY_S);
    expect(eventAgeLimitS(e, 'Purchase', 'system_generated')).toBe(62 * DAY_S);
  });

  it('EA03 a webhook has no limit of its own: the 90 days touches are kept', () => {
    expect(eventAgeLimitS(env(['webhook', ['Purchase']]), 'Purchase', undefined)).toBe(
      DEFAULT_LATE_EVENT_AGE_S,
    );
  });

  it('EA04 an event no destination takes keeps the 7-day limit', () => {
    expect(eventAgeLimitS(env(['google_ads', ['Purchase']]), 'PageView', undefined)).toBe(
      7 * DAY_S,
    );
    expect(eventAgeLimitS(undefined, 'Purchase', undefined)).toBe(7 * DAY_S);
  });

  it('EA05 a destination with a shorter limit (GA4, 72 h) keeps the 7 days every event has', () => {
    expect(eventAgeLimitS(env(['ga4', ['Purchase']]), 'Purchase', 'website')).toBe(7 * DAY_S);
  });
});
