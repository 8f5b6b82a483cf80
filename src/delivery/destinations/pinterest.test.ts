import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone, sha256Hex } from '../../domain/identity.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  interpretPinterest,
  PINTEREST_MAX_EVENTS,
  pinterestDestination as pin,
  readPinterestAnswer,
} from './pinterest.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const settings = { ad_account_id: '549755885175', access_token: 'pina_contract_token' };
const USER: UserKeys = {
  email_sha256: hashEmail('Test@Example.com')!,
  phone_sha256: hashPhone('+1 (555) 010-9999')!,
  user_id: 'U42',
  ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
  epik: 'dj0yJnU9b2JDcFFHekV4SHJNcmVrbFBkUEdqakh0akdUT1VjVVUmcD0yJm49cnNBQ3F2Q2dOVDBXWWhkWklrUGxBUSZ0PUFBQUFBR1BaY3Bv',
};

function dest(over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({
    id: 'pin',
    type: 'pinterest',
    click_window_ms: 30 * 86_400_000,
    batch: { size: 1000, max_wait_ms: 0 },
    settings,
    ...over,
  });
}

function item(user: UserKeys = USER, over: Partial<TrackedEvent> = {}, n = 1): DeliveryItem {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: `ord-${n}`,
    event_time: NOW_S - 600,
    source: 'server',
    user,
    properties: {
      value: 72.39,
      currency: 'USD',
      content_ids: ['red-shirt-1', 'purple-shirt-3'],
      order_id: `A-${n}`,
      url: 'https://shop.example/checkout/done',
    },
    consent: { ads: true, analytics: true },
    warnings: [],
    ...over,
  };
  const conversion: ConversionRecord = {
    conversion_id: `cv-${n}`,
    dest_id: 'pin',
    env_id: 'env_t',
    event_pk: `pk-${n}`,
    event_name: event.event_name,
    event_id: event.event_id,
    event_time: event.event_time,
    value: 72.39,
    currency: 'USD',
    attribution: null,
    reason: null,
    created_at_ms: NOW,
  };
  return { outbox_id: n, conversion, event };
}

const ctx = (d = dest()) => ({ dest: d, settings: d.settings as typeof settings, nowMs: NOW });
const build = (items: DeliveryItem[], d = dest()) => pin.buildRequest(items, ctx(d));
const body = (items: DeliveryItem[], d = dest()) => JSON.parse(build(items, d).body!);
const refuse = (i: DeliveryItem) => pin.refuse!(i, ctx());
const response = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json).slice(0, 500),
});
const row = (status: 'processed' | 'failed', error_message: string | null = null) => ({
  status,
  error_message,
  warning_message: null,
});
const batch = (n: number) => Array.from({ length: n }, (_, i) => item(USER, {}, i + 1));

describe('pinterest request', () => {
  it('PN-R01 posts to /v5/ad_accounts/{id}/events with the Bearer conversion token', () => {
    const req = build([item()]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/v5/ad_accounts/549755885175/events');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer pina_contract_token',
      'content-type': 'application/json',
    });
    expect(build([item()], dest({ base_url: null })).url).toBe(
      'https://api.pinterest.com/v5/ad_accounts/549755885175/events',
    );
  });

  it('PN-R02 test mode adds ?test=true (validated, not recorded)', () => {
    expect(build([item()], dest({ test_mode: true })).url).toBe(
      'http://127.0.0.1:9/v5/ad_accounts/549755885175/events?test=true',
    );
  });

  it('PN-R03 the body has the documented event fields; value is a string', () => {
    expect(body([item()])).toEqual({
      data: [
        {
          event_name: 'checkout',
          action_source: 'web',
          event_time: NOW_S - 600,
          event_id: 'ord-1',
          event_source_url: 'https://shop.example/checkout/done',
          user_data: {
            em: [EMAIL_SHA],
            ph: [sha256Hex('15550109999')],
            external_id: [sha256Hex('u42')],
            client_ip_address: '203.0.113.9',
            client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
            click_id: USER.epik,
          },
          custom_data: {
            value: '72.39',
            currency: 'USD',
            content_ids: ['red-shirt-1', 'purple-shirt-3'],
            num_items: 2,
            order_id: 'A-1',
          },
        },
      ],
    });
  });

  it('PN-R04 em is the SHA-256 of the lower-cased email (published vector); no clear PII', () => {
    expect(body([item()]).data[0].user_data.em).toEqual([EMAIL_SHA]);
    expect(build([item()]).body).not.toMatch(/example\.com|555|U42/);
  });

  it('PN-R05 our names map to Pinterest event names; event_map and own names pass', () => {
    const name = (event_name: string, d = dest()) =>
      body([item(USER, { event_name })], d).data[0].event_name;
    expect(name('Purchase')).toBe('checkout');
    expect(name('Lead')).toBe('lead');
    expect(name('AddToCart')).toBe('add_to_cart');
    expect(name('PageView')).toBe('page_visit');
    expect(name('ViewContent')).toBe('page_visit');
    expect(name('CompleteRegistration')).toBe('signup');
    expect(name('Search')).toBe('search');
    expect(name('InitiateCheckout')).toBe('custom');
    expect(name('quote_requested')).toBe('quote_requested');
    expect(name('Lead', dest({ event_map: { Lead: 'signup' } }))).toBe('signup');
  });

  it('PN-R06 action_source may be named by the event; anything else is web', () => {
    const src = (action_source: string) =>
      body([item(USER, { properties: { action_source } })]).data[0].action_source;
    expect(src('offline')).toBe('offline');
    expect(src('website')).toBe('web');
  });

  it('PN-R07 a batch carries up to 1,000 events, in order', () => {
    expect(pin.maxBatch).toBe(PINTEREST_MAX_EVENTS);
    expect(PINTEREST_MAX_EVENTS).toBe(1000);
    const data = body(batch(1000)).data;
    expect(data).toHaveLength(1000);
    expect(data[999].event_id).toBe('ord-1000');
  });

  it('PN-R08 the settings schema: a numeric ad_account_id and a secret access_token', () => {
    expect(Value.Check(pin.settingsSchema, settings)).toBe(true);
    expect(Value.Check(pin.settingsSchema, { ...settings, ad_account_id: 'act_12' })).toBe(false);
    const props = (pin.settingsSchema as unknown as { properties: Record<string, object> })
      .properties;
    expect(props.access_token).toMatchObject({ secret: true });
  });
});

describe('pinterest refuse', () => {
  it('PN-F01 needs a hashed email or IP + user agent', () => {
    expect(refuse(item({ email_sha256: EMAIL_SHA }))).toBeNull();
    expect(refuse(item({ ip: '203.0.113.9', user_agent: 'UA' }))).toBeNull();
    expect(refuse(item({ ip: '203.0.113.9', epik: 'x' }))).toMatch(
      /hashed email or the IP address and user agent/,
    );
  });

  it('PN-F02 ads consent denied is refused', () => {
    expect(refuse(item(USER, { consent: { ads: false, analytics: true } }))).toBe(
      'ads consent denied',
    );
  });
});

describe('pinterest interpret', () => {
  const two = batch(2);

  it('PN01 200 with every event processed is delivered', () => {
    const r = interpretPinterest(
      response(200, {
        num_events_received: 2,
        num_events_processed: 2,
        events: [row('processed'), row('processed')],
      }),
      two,
      NOW,
    );
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('2 of 2 event(s) processed');
  });

  // 422 answers a DetailedError `{code, message, details}` (events/create in the v5 OpenAPI);
  // its code number is not documented, the one used here is illustrative.
  it('PN02 422 fails only the rows whose events[i].status is failed', () => {
    const r = interpretPinterest(
      response(422, {
        code: 4217,
        message: 'Not all events were successfully processed.',
        details: {
          num_events_received: 2,
          num_events_processed: 1,
          events: [row('processed'), row('failed', 'Event timestamp is too far in the past.')],
        },
      }),
      two,
      NOW,
    );
    expect(r.verdicts).toEqual([
      { action: 'done' },
      { action: 'drop', reason: 'event refused: Event timestamp is too far in the past.' },
    ]);
    expect(r.detail).toBe(
      '1 of 2 event(s) processed; data[1] Event timestamp is too far in the past.',
    );
  });

  it('PN03 a failed row in a 200 answer is dropped too', () => {
    const r = interpretPinterest(
      response(200, { events: [row('failed', 'Invalid action_source.'), row('processed')] }),
      two,
      NOW,
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'done']);
  });

  it('PN04 401 code 2 (authentication failed) pauses the destination', () => {
    const r = interpretPinterest(
      response(401, { code: 2, message: 'Authentication failed.' }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toBe(
      'access token refused: HTTP 401 code 2: Authentication failed.; destination paused',
    );
  });

  it('PN05 403 code 29 (not permitted on the ad account) pauses the destination', () => {
    const r = interpretPinterest(
      response(403, { code: 29, message: 'You are not permitted to access that resource.' }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
  });

  it('PN06 429 code 8 (rate limit) retries after Retry-After', () => {
    const r = interpretPinterest(
      response(429, { code: 8, message: 'This request exceeded a rate limit.' }, '30'),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(r.detail).toMatch(/^rate limited, retry after 30 s: HTTP 429 code 8/);
  });

  it('PN07 400 code 4196 (invalid request) drops without retry', () => {
    const r = interpretPinterest(
      response(400, { code: 4196, message: 'The request was invalid.' }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toEqual({
      action: 'drop',
      reason: 'HTTP 400 code 4196: The request was invalid.',
    });
  });

  it('PN08 503 code 4197 (endpoint ramped down) and 500 retry', () => {
    const ramped = response(503, {
      code: 4197,
      message: 'The endpoint has been ramped down and is currently not accepting any traffic.',
    });
    expect(interpretPinterest(ramped, two, NOW).verdicts[0].action).toBe('retry');
    expect(interpretPinterest(response(500, {}), two, NOW).verdicts[0].action).toBe('retry');
  });

  it('PN09 a 422 excerpt cut short: rows it shows are placed, the others retried', () => {
    const events = Array.from({ length: 12 }, (_, i) =>
      i === 1 ? row('failed', 'Invalid email hash.') : row('processed'),
    );
    const json = {
      code: 4217,
      message: 'Not all events were successfully processed.',
      details: { num_events_received: 12, num_events_processed: 11, events },
    };
    const r = interpretPinterest(response(422, json), batch(12), NOW);
    expect(r.verdicts[0]).toEqual({ action: 'done' });
    expect(r.verdicts[1]).toEqual({ action: 'drop', reason: 'event refused: Invalid email hash.' });
    expect(r.verdicts[11].action).toBe('retry');
    expect(r.detail).toMatch(/row\(s\) not in the excerpt$/);
    expect(readPinterestAnswer(JSON.stringify(json).slice(0, 500))).toMatchObject({
      received: 12,
      processed: 11,
    });
  });

  it('PN10 a 200 excerpt cut short counts the rows it does not show as processed', () => {
    const events = Array.from({ length: 12 }, () => row('processed'));
    const r = interpretPinterest(
      response(200, { num_events_received: 12, num_events_processed: 12, events }),
      batch(12),
      NOW,
    );
    expect(r.verdicts.every((v) => v.action === 'done')).toBe(true);
  });

  it('PN11 a 422 with no row processed and none listed drops the batch', () => {
    const r = interpretPinterest(
      response(422, {
        code: 4217,
        message: 'Not all events were successfully processed.',
        details: { num_events_received: 2, num_events_processed: 0 },
      }),
      two,
      NOW,
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'drop']);
  });

  it('PN12 a network error retries', () => {
    const r = interpretPinterest({ kind: 'network', error: 'ETIMEDOUT' }, two, NOW);
    expect(r.verdicts[0].action).toBe('retry');
  });
});

describe('pinterest: names, address, products, offline (issue 20 §3, §4)', () => {
  const HASHED: UserKeys = {
    email_sha256: sha256Hex('a@b.co'),
    first_name_sha256: sha256Hex('mary'),
    last_name_sha256: sha256Hex('smith'),
    gender_sha256: sha256Hex('f'),
    date_of_birth_sha256: sha256Hex('19970216'),
    city_sha256: sha256Hex('menlopark'),
    state_sha256: sha256Hex('ca'),
    zip_sha256: sha256Hex('94025'),
    country_sha256: sha256Hex('us'),
  };
  const CONTENTS = [
    { id: 'sku1', quantity: 2, item_price: 10 },
    { id: 'sku2', item_price: 5.5 },
  ];

  it('PN-S01 user_data carries fn, ln, ge, db, ct, st, zp and country hashed in lists', () => {
    const u = body([item(HASHED)]).data[0].user_data;
    expect(u).toMatchObject({
      fn: [sha256Hex('mary')],
      ln: [sha256Hex('smith')],
      ge: [sha256Hex('f')],
      db: [sha256Hex('19970216')],
      ct: [sha256Hex('menlopark')],
      st: [sha256Hex('ca')],
      zp: [sha256Hex('94025')],
      country: [sha256Hex('us')],
    });
  });

  it('PN-S02 contents go with item_price as a string; num_items counts the quantities', () => {
    const props = { value: 25.5, currency: 'USD', contents: CONTENTS };
    const c = body([item(USER, { properties: props })]).data[0].custom_data;
    expect(c.contents).toEqual([
      { id: 'sku1', item_price: '10', quantity: 2 },
      { id: 'sku2', item_price: '5.5' },
    ]);
    expect(c.content_ids).toEqual(['sku1', 'sku2']);
    expect(c.num_items).toBe(3);
  });

  it('PN-S03 a store sale goes as action_source offline', () => {
    expect(body([item(USER, { action_source: 'physical_store' })]).data[0].action_source).toBe(
      'offline',
    );
    expect(body([item()]).data[0].action_source).toBe('web');
  });
});
