import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone, sha256Hex } from '../../domain/identity.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  interpretTiktok,
  readTiktokAnswer,
  TIKTOK_MAX_EVENT_AGE_S,
  TIKTOK_MAX_EVENTS,
  tiktokDestination as tt,
} from './tiktok.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const settings = { pixel_code: 'C4A1B2C3D4E5F6G7H8I9', access_token: 'tt-secret-token' };
const WEB_USER: UserKeys = {
  email_sha256: hashEmail(' TEST@example.com ')!,
  user_id: ' U42 ',
  ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
  ttclid: 'E.C.P.abc123',
  ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
};

function dest(over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({
    id: 'tt',
    type: 'tiktok',
    batch: { size: 1000, max_wait_ms: 0 },
    settings,
    ...over,
  });
}

function item(user: UserKeys = WEB_USER, over: Partial<TrackedEvent> = {}, n = 1): DeliveryItem {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: `ord-${n}`,
    event_time: NOW_S - 3600,
    source: 'server',
    user,
    properties: {
      value: 49.9,
      currency: 'EUR',
      content_ids: ['sku1', 'sku2'],
      order_id: `A-${n}`,
      url: 'https://shop.example/checkout/done',
      referrer: 'https://shop.example/cart',
    },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
  const conversion: ConversionRecord = {
    conversion_id: `cv-${n}`,
    dest_id: 'tt',
    env_id: 'env_t',
    event_pk: `pk-${n}`,
    event_name: event.event_name,
    event_id: event.event_id,
    event_time: event.event_time,
    value: 49.9,
    currency: 'EUR',
    attribution: null,
    reason: null,
    created_at_ms: NOW,
  };
  return { outbox_id: n, conversion, event };
}

const ctx = (d = dest()) => ({ dest: d, settings: d.settings as typeof settings, nowMs: NOW });
const build = (items: DeliveryItem[], d = dest()) => tt.buildRequest(items, ctx(d));
const body = (items: DeliveryItem[], d = dest()) => JSON.parse(build(items, d).body!);
const refuse = (i: DeliveryItem, d = dest()) => tt.refuse!(i, ctx(d));
/** TikTok answers HTTP 200 with its own `code`; the worker hands over 500 characters. */
const answer = (json: unknown, status = 200, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json).slice(0, 500),
});
const tiktokError = (code: number, message: string) =>
  answer({ code, message, request_id: '202511231013200102231031430C7E754E', data: {} });
const two = [item(), item(WEB_USER, {}, 2)];

describe('tiktok request', () => {
  it('TT-R01 posts to /open_api/v1.3/event/track/ with the Access-Token header', () => {
    const req = build([item()]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/open_api/v1.3/event/track/');
    expect(req.headers).toMatchObject({
      'access-token': 'tt-secret-token',
      'content-type': 'application/json',
    });
    expect(req.headers.authorization).toBeUndefined();
    expect(build([item()], dest({ base_url: null })).url).toBe(
      'https://business-api.tiktok.com/open_api/v1.3/event/track/',
    );
  });

  it('TT-R02 the body is a web event of the pixel with the documented fields', () => {
    const b = body([item()]);
    expect(b).toEqual({
      event_source: 'web',
      event_source_id: 'C4A1B2C3D4E5F6G7H8I9',
      data: [
        {
          event: 'Purchase',
          event_time: NOW_S - 3600,
          event_id: 'ord-1',
          user: {
            email: EMAIL_SHA,
            external_id: sha256Hex('u42'),
            ttclid: 'E.C.P.abc123',
            ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
            ip: '203.0.113.9',
            user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
          },
          properties: {
            value: 49.9,
            currency: 'EUR',
            contents: [{ content_id: 'sku1' }, { content_id: 'sku2' }],
            content_type: 'product',
            order_id: 'A-1',
          },
          page: {
            url: 'https://shop.example/checkout/done',
            referrer: 'https://shop.example/cart',
          },
        },
      ],
    });
  });

  it('TT-R03 the email is the SHA-256 of the normalized address (published vector)', () => {
    expect(hashEmail(' TEST@example.com ')).toBe(EMAIL_SHA);
    expect(body([item()]).data[0].user.email).toBe(EMAIL_SHA);
  });

  it('TT-R04 only hashes leave: no clear email, phone or user id in the body', () => {
    const phone = hashPhone('+1 555 010 9999')!;
    const raw = build([item({ ...WEB_USER, phone_sha256: phone })]).body!;
    expect(raw).not.toMatch(/example\.com|U42|u42"/);
    // The digits-only phone hash would never match TikTok's E.164-with-plus hash: left out.
    expect(raw).not.toContain(phone);
  });

  it('TT-R05 our names map to TikTok standard events; event_map and custom names pass', () => {
    const name = (event_name: string, d = dest()) =>
      body([item(WEB_USER, { event_name })], d).data[0].event;
    expect(name('Purchase')).toBe('Purchase');
    expect(name('Lead')).toBe('SubmitForm');
    expect(name('CompleteRegistration')).toBe('CompleteRegistration');
    expect(name('InitiateCheckout')).toBe('InitiateCheckout');
    expect(name('AddToCart')).toBe('AddToCart');
    expect(name('VideoWatched')).toBe('VideoWatched');
    expect(name('Purchase', dest({ event_map: { Purchase: 'PlaceAnOrder' } }))).toBe(
      'PlaceAnOrder',
    );
  });

  it('TT-R06 order_id only on purchase events; a search sends its query', () => {
    const lead = body([item(WEB_USER, { event_name: 'Lead' })]).data[0].properties;
    expect(lead.order_id).toBeUndefined();
    const search = body([
      item(WEB_USER, { event_name: 'Search', properties: { search_string: 'red shoes' } }),
    ]).data[0];
    expect(search.properties).toEqual({ value: 49.9, currency: 'EUR', query: 'red shoes' });
    expect(search.page).toBeUndefined();
  });

  it('TT-R07 a batch carries up to 1,000 events, in order', () => {
    expect(tt.maxBatch).toBe(TIKTOK_MAX_EVENTS);
    expect(TIKTOK_MAX_EVENTS).toBe(1000);
    const items = Array.from({ length: 1000 }, (_, i) => item(WEB_USER, {}, i + 1));
    const data = body(items).data;
    expect(data).toHaveLength(1000);
    expect(data[999].event_id).toBe('ord-1000');
  });

  it('TT-R08 test_event_code goes only in test_mode, never on production requests', () => {
    const coded = { settings: { ...settings, test_event_code: 'TEST12345' } };
    expect(body([item()], dest({ ...coded, test_mode: true })).test_event_code).toBe('TEST12345');
    expect(body([item()], dest(coded))).not.toHaveProperty('test_event_code');
    expect(body([item()]).test_event_code).toBeUndefined();
  });

  it('TT-R09 the settings schema: pixel_code and a secret access_token', () => {
    expect(Value.Check(tt.settingsSchema, settings)).toBe(true);
    expect(Value.Check(tt.settingsSchema, { pixel_code: 'C4A1' })).toBe(false);
    expect(Value.Check(tt.settingsSchema, { ...settings, pixel_id: 'x' })).toBe(false);
    const props = (tt.settingsSchema as unknown as { properties: Record<string, object> })
      .properties;
    expect(props.access_token).toMatchObject({ secret: true });
  });
});

describe('tiktok refuse', () => {
  it('TT-F01 an event older than 28 days is refused as too old', () => {
    const old = item(WEB_USER, { event_time: NOW_S - TIKTOK_MAX_EVENT_AGE_S - 1 });
    old.conversion.event_time = old.event.event_time;
    expect(refuse(old)).toMatch(/^event too old/);
    const edge = item(WEB_USER, { event_time: NOW_S - TIKTOK_MAX_EVENT_AGE_S });
    edge.conversion.event_time = edge.event.event_time;
    expect(refuse(edge)).toBeNull();
  });

  it('TT-F02 test_mode without test_event_code is refused', () => {
    expect(refuse(item(), dest({ test_mode: true }))).toMatch(/test_event_code/);
    const d = dest({ test_mode: true, settings: { ...settings, test_event_code: 'T1' } });
    expect(refuse(item(), d)).toBeNull();
  });

  it('TT-F03 an event with nothing TikTok can match is refused', () => {
    expect(refuse(item({}))).toMatch(/no customer information/);
    expect(refuse(item({ ip: '203.0.113.9' }))).toMatch(/no customer information/);
    expect(refuse(item({ ttclid: 'E.C.P.x' }))).toBeNull();
    expect(refuse(item({ ip: '203.0.113.9', user_agent: 'UA' }))).toBeNull();
  });

  it('TT-F04 ads consent denied is refused', () => {
    expect(refuse(item(WEB_USER, { consent: { ads: false, analytics: true } }))).toBe(
      'ads consent denied',
    );
  });
});

describe('tiktok interpret', () => {
  const verdicts = (r: HttpResult) => interpretTiktok(r, two, NOW);

  it('TT01 code 0 is delivered', () => {
    const r = verdicts(answer({ code: 0, message: 'OK', request_id: 'r1', data: {} }));
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('code 0: OK (request_id r1)');
  });

  it('TT02 code 40100 (too many requests) retries after Retry-After', () => {
    const r = verdicts(
      answer(
        { code: 40100, message: 'Too many requests. Please retry in some time.', request_id: 'r2' },
        200,
        '30',
      ),
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(r.detail).toMatch(/^rate limited, retry after 30 s: code 40100/);
  });

  it('TT03 code 40100 without Retry-After retries with backoff', () => {
    const v = verdicts(tiktokError(40100, 'Too many requests.')).verdicts[0];
    expect(v).toMatchObject({ action: 'retry', retryAfterMs: undefined });
  });

  it('TT04 code 40105 (invalid access token) pauses the destination', () => {
    const r = verdicts(tiktokError(40105, 'Access token is incorrect or has been revoked.'));
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/^access token refused: code 40105.*destination paused$/);
  });

  it('TT05 code 40104 (empty access token) and 40102 (expired) pause too', () => {
    for (const code of [40102, 40104])
      expect(verdicts(tiktokError(code, 'Access token is null.')).verdicts[0].action).toBe('pause');
  });

  it('TT06 code 40001 (no permission) pauses the destination', () => {
    const r = verdicts(tiktokError(40001, 'No permission to operate pixel C4A1B2C3D4E5F6G7H8I9.'));
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/^permission denied/);
  });

  it('TT07 code 40002 naming the pixel code pauses as an invalid pixel code', () => {
    const r = verdicts(tiktokError(40002, 'Invalid pixel_code: pixel does not exist.'));
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/^invalid pixel code/);
  });

  it('TT08 code 40002 (invalid parameters) drops without retry', () => {
    const r = verdicts(tiktokError(40002, 'data[0].event_time: Invalid value.'));
    expect(r.verdicts).toEqual([
      expect.objectContaining({ action: 'drop' }),
      expect.objectContaining({ action: 'drop' }),
    ]);
    expect(r.detail).toBe(
      'refused: code 40002: data[0].event_time: Invalid value. (request_id 202511231013200102231031430C7E754E)',
    );
  });

  it('TT09 code 50000 (system error) and 50002 retry', () => {
    for (const code of [50000, 50002])
      expect(verdicts(tiktokError(code, 'System error')).verdicts[0].action).toBe('retry');
  });

  it('TT10 an HTTP error without a TikTok code is read by its status class', () => {
    const html = (status: number): HttpResult => ({
      kind: 'response',
      status,
      retryAfter: null,
      bodyExcerpt: '<html>Bad Gateway</html>',
    });
    expect(verdicts(html(502)).verdicts[0].action).toBe('retry');
    expect(verdicts(html(401)).verdicts[0].action).toBe('pause');
    expect(verdicts(html(400)).verdicts[0].action).toBe('drop');
  });

  it('TT11 a network error retries', () => {
    const r = verdicts({ kind: 'network', error: 'ECONNRESET' });
    expect(r.verdicts[0].action).toBe('retry');
    expect(r.detail).toBe('network error: ECONNRESET');
  });

  it('TT12 the code is read from a body cut short', () => {
    const cut = `{"code":40002,"message":"${'x'.repeat(600)}`.slice(0, 500);
    expect(readTiktokAnswer(cut)).toMatchObject({ code: 40002, request_id: null });
    const r: HttpResult = { kind: 'response', status: 200, retryAfter: null, bodyExcerpt: cut };
    expect(interpretTiktok(r, two, NOW).verdicts[0].action).toBe('drop');
  });

  it('K99 a phone goes hashed as E.164 with the plus sign', () => {
    const b = body([item({ ...WEB_USER, phone_e164_sha256: sha256Hex('+15550109999') })]);
    expect(b.data[0].user.phone).toBe(sha256Hex('+15550109999'));
  });
});

describe('tiktok: names, address and products (issue 20 §3)', () => {
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

  it('TT-S01 first_name, last_name, city, state, country and zip_code go hashed', () => {
    const [ev] = body([item(HASHED)]).data;
    expect(ev.user).toMatchObject({
      email: sha256Hex('a@b.co'),
      first_name: sha256Hex('mary'),
      last_name: sha256Hex('smith'),
      city: sha256Hex('menlopark'),
      state: sha256Hex('ca'),
      country: sha256Hex('us'),
      zip_code: sha256Hex('94025'),
    });
    // TikTok's user takes no gender or birth date.
    expect(Object.keys(ev.user)).not.toContain('ge');
  });

  it('TT-S02 contents carry content_id, quantity and price', () => {
    const props = { value: 25.5, currency: 'EUR', contents: CONTENTS };
    const [ev] = body([item(WEB_USER, { properties: props })]).data;
    expect(ev.properties.contents).toEqual([
      { content_id: 'sku1', quantity: 2, price: 10 },
      { content_id: 'sku2', price: 5.5 },
    ]);
    expect(ev.properties.content_type).toBe('product');
  });
});
