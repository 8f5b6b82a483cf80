// What the Reddit adapter's tests (API v2.0 and v3) build their requests from: a destination,
// a web user with Reddit's own example match keys, a delivery item and a platform answer.
import type { DestinationConfig } from '../../config/config-types.js';
import type { EventProperties, UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone, hashPhoneE164 } from '../../domain/identity.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from '../destination.js';
import { REDDIT_MAX_EVENTS } from './reddit.js';
import { type TestItemOptions, testDestination, testItem } from './test-destination.js';

export const NOW_S = 1_763_900_000;
export const NOW = NOW_S * 1000;
export const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
export const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_5) Chrome/77.0';
export const TOKEN = 'reddit-conversion-token';

/** A Reddit destination with these settings (`over` replaces any other field). */
export function redditContext<S>(
  settings: S,
  over: Partial<DestinationConfig> = {},
): DeliveryContext<S> {
  const dest = testDestination({
    id: 'rd',
    type: 'reddit',
    batch: { size: REDDIT_MAX_EVENTS, max_wait_ms: 0 },
    settings: settings as Record<string, unknown>,
    ...over,
  });
  return { dest, settings, nowMs: NOW };
}

export const webUser: UserKeys = {
  email_sha256: hashEmail('test@example.com') as string,
  phone_sha256: hashPhone('+1 555 444 1234') as string,
  phone_e164_sha256: hashPhoneE164('+1 555 444 1234') as string,
  user_id: 'customer12345',
  ip: '192.168.0.1',
  user_agent: UA,
  rdt_cid: '3184742045291813272',
};

export type ItemOptions = TestItemOptions;

/** A server-side conversion of the web user to the `rd` destination. */
export function redditItem(over: ItemOptions, defaultProps: EventProperties): DeliveryItem {
  return testItem(
    { dest_id: 'rd', source: 'server', nowS: NOW_S, user: webUser, props: defaultProps },
    over,
  );
}

/** Reddit's answer as the worker hands it to the adapter. */
export const redditAnswer = (
  status: number,
  json: unknown,
  retryAfter: string | null = null,
): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: typeof json === 'string' ? json : JSON.stringify(json),
});
