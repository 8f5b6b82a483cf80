import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import {
  type TestItemOptions,
  testDestination,
  testItem,
} from '../../../test/fixtures/destination.js';
import { secretFields } from '../../config/config-parse.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone, sha256Hex } from '../../domain/identity.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import { SNAP_MAX_EVENTS, snapchatDestination as snap } from './snapchat.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)';
const PIXEL = '1ec32188-754e-4be2-8e55-c949a984a39f';
const TOKEN = 'snap-secret-token';
type Settings = { pixel_id: string; access_token: string };

function ctx(over: Partial<DestinationConfig> = {}): DeliveryContext<Settings> {
  const settings = { pixel_id: PIXEL, access_token: TOKEN };
  const dest = testDestination({
    id: 'snap',
    type: 'snapchat',
    batch: { size: SNAP_MAX_EVENTS, max_wait_ms: 0 },
    settings,
    ...over,
  });
  return { dest, settings, nowMs: NOW };
}

const webUser: UserKeys = {
  email_sha256: hashEmail('test@example.com')!,
  phone_sha256: hashPhone('+44 844 412 4653')!,
  ip: '198.51.100.42',
  user_agent: UA,
  sc_click_id: 'a3f4b5c6-d7e8-9012-3456-7890abcdef12',
};

const item = (over: TestItemOptions = {}): DeliveryItem =>
  testItem(
    {
      dest_id: 'snap',
      source: 'tag',
      nowS: NOW_S,
      user: webUser,
      props: {
        value: 49.9,
        currency: 'EUR',
        content_ids: ['sku1'],
        url: 'https://shop.example/thanks',
      },
    },
    over,
  );

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(snap.buildRequest(items, c).body ?? '{}');
const answer = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json),
});

describe('snapchat request', () => {
  it('S01 posts data[] to /v3/{pixel_id}/events with the token as access_token query parameter', () => {
    const req = snap.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`http://127.0.0.1:9/v3/${PIXEL}/events?access_token=${TOKEN}`);
    expect(JSON.parse(req.body ?? '')).toEqual({
      data: [
        {
          event_name: 'PURCHASE',
          event_time: NOW_S - 600,
          event_id: 'ord-1',
          action_source: 'WEB',
          event_source_url: 'https://shop.example/thanks',
          user_data: {
            em: [TEST_EMAIL_SHA],
            ph: ['dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383'],
            client_ip_address: '198.51.100.42',
            client_user_agent: UA,
            sc_click_id: 'a3f4b5c6-d7e8-9012-3456-7890abcdef12',
          },
          custom_data: {
            value: 49.9,
            currency: 'EUR',
            content_ids: ['sku1'],
            content_type: 'product',
          },
        },
      ],
    });
  });

  it("S02 hashes follow Snap's published vectors (Person@Example.com, +44 844 412 4653)", () => {
    const u = body([item({ user: { ...webUser, email_sha256: hashEmail('Person@Example.com')! } })])
      .data[0].user_data;
    expect(u.em).toEqual(['542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345']);
    expect(u.ph).toEqual(['dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383']);
    const withId = body([item({ user: { ...webUser, user_id: 'U42' } })]).data[0].user_data;
    expect(withId.external_id).toEqual([sha256Hex('u42')]);
  });

  it('S03 our names map to Snap events; event_map overrides', () => {
    const c = ctx({ event_map: { Contact: 'CUSTOM_EVENT_1' } });
    const names = body(
      [
        item({ name: 'AddToCart', id: 'a' }),
        item({ name: 'InitiateCheckout', id: 'b' }),
        item({ name: 'CompleteRegistration', id: 'c' }),
        item({ name: 'PageView', id: 'd' }),
        item({ name: 'Contact', id: 'e' }),
      ],
      c,
    ).data.map((d: { event_name: string }) => d.event_name);
    expect(names).toEqual(['ADD_CART', 'START_CHECKOUT', 'SIGN_UP', 'PAGE_VIEW', 'CUSTOM_EVENT_1']);
  });

  it('S04 an event without a page URL is OFFLINE', () => {
    const d = body([item({ props: { value: 5, currency: 'USD' } })]).data[0];
    expect(d.action_source).toBe('OFFLINE');
    expect(d).not.toHaveProperty('event_source_url');
  });

  it("S05 test_mode posts to /events/validate, Snap's Test Event Tool", () => {
    expect(snap.buildRequest([item()], ctx({ test_mode: true })).url).toBe(
      `http://127.0.0.1:9/v3/${PIXEL}/events/validate?access_token=${TOKEN}`,
    );
    expect(snap.buildRequest([item()], ctx({ base_url: null })).url).toMatch(
      /^https:\/\/tr\.snapchat\.com\/v3\//,
    );
  });

  it('S06 one request carries up to 2,000 events', () => {
    expect(snap.maxBatch).toBe(2000);
    const items = Array.from({ length: SNAP_MAX_EVENTS }, (_, i) => item({ id: `o${i}` }));
    expect(body(items).data).toHaveLength(2000);
  });

  it('S07 the settings schema marks the token secret and refuses unknown fields', () => {
    expect(Value.Check(snap.settingsSchema, { pixel_id: PIXEL, access_token: 't' })).toBe(true);
    expect(Value.Check(snap.settingsSchema, { pixel_id: PIXEL })).toBe(false);
    expect(Value.Check(snap.settingsSchema, { pixel_id: PIXEL, access_token: 't', x: 1 })).toBe(
      false,
    );
    expect(secretFields(snap.settingsSchema)).toEqual(['access_token']);
  });
});

describe('snapchat refuse', () => {
  it('S10 an event older than 37 days is refused', () => {
    expect(snap.refuse?.(item({ time: NOW_S - 37 * 86_400 - 1 }), ctx())).toMatch(/^event too old/);
    expect(snap.refuse?.(item({ time: NOW_S - 30 * 86_400 }), ctx())).toBeNull();
  });

  it('S11 a name Snap does not know is refused unless event_map names a Snap event for it', () => {
    expect(snap.refuse?.(item({ name: 'Contact', props: {} }), ctx())).toMatch(/event_map/);
    const mapped = ctx({ event_map: { Contact: 'CUSTOM_EVENT_2' } });
    expect(snap.refuse?.(item({ name: 'Contact', props: {} }), mapped)).toBeNull();
  });

  it('S12 a PURCHASE without value and currency is refused', () => {
    expect(snap.refuse?.(item({ props: { currency: 'EUR' } }), ctx())).toMatch(
      /value and currency/,
    );
  });

  it('S13 an event without email, phone or IP + user agent is refused', () => {
    expect(snap.refuse?.(item({ user: { sc_click_id: 'x', ip: '198.51.100.1' } }), ctx())).toMatch(
      /no match key/,
    );
    expect(snap.refuse?.(item({ user: { ip: '198.51.100.1', user_agent: UA } }), ctx())).toBeNull();
  });
});

describe('snapchat interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' })];
  const read = (r: HttpResult) => snap.interpret!(r, items, NOW);

  it('S20 a 200 VALID delivers every item', () => {
    const r = read(
      answer(200, { status: 'VALID', reason: 'Events have been processed successfully.' }),
    );
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('Events have been processed successfully.');
  });

  it("S21 a 400 INVALID drops the batch with Snap's reasons", () => {
    const r = read(
      answer(400, {
        status: 'INVALID',
        reason: 'Timestamp invalid or out of range',
        errors: {
          codes: ['INVALID_TIMESTAMP'],
          error_msgs: ['event_time is more than 37 days old'],
        },
      }),
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'drop']);
    expect(r.detail).toBe('Timestamp invalid or out of range; event_time is more than 37 days old');
  });

  it('S22 a 200 that still says INVALID (validate endpoint) is dropped, not counted delivered', () => {
    const r = read(
      answer(200, {
        status: 'INVALID',
        test_event: true,
        event_logs: [{ event: 0, status: 'INVALID', errors: { error_msgs: ['Unhashed PII'] } }],
      }),
    );
    expect(r.verdicts[0].action).toBe('drop');
    expect(r.detail).toBe('Unhashed PII');
  });

  it.each([401, 403])('S23 %i pauses the destination (token refused for this pixel)', (status) => {
    const r = read(answer(status, { status: 'INVALID', reason: 'Unauthorized' }));
    expect(r.verdicts[0]).toEqual({
      action: 'pause',
      reason: 'access token refused for this pixel: Unauthorized',
    });
  });

  it('S24 a 429 retries after Retry-After and says so', () => {
    const r = read(answer(429, { status: 'INVALID', reason: 'Too many requests' }, '30'));
    expect(r.verdicts[0]).toEqual({
      action: 'retry',
      reason: 'rate limited, retry after 30 s: Too many requests',
      retryAfterMs: 30_000,
    });
  });

  it('S25 5xx and network errors retry; 404 pauses as an invalid pixel id', () => {
    expect(read(answer(503, { reason: 'unavailable' })).verdicts[0].action).toBe('retry');
    expect(read({ kind: 'network', error: 'ETIMEDOUT' }).verdicts[0].action).toBe('retry');
    expect(read(answer(404, { reason: 'Pixel not found' })).verdicts[0]).toMatchObject({
      action: 'pause',
      reason: 'invalid pixel id: Pixel not found',
    });
  });
});

describe('snapchat: offline sales (issue 20 §4)', () => {
  it('S-S01 a store sale is OFFLINE even with a page URL; a web purchase stays WEB', () => {
    const store = item();
    store.event.action_source = 'physical_store';
    expect(body([store]).data[0].action_source).toBe('OFFLINE');
    expect(body([item()]).data[0].action_source).toBe('WEB');
  });
});
