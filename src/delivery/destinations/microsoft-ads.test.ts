import { createHash } from 'node:crypto';
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
import { hashEmail, hashPhone, hashPhoneE164 } from '../../domain/identity.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import {
  formatMsclkid,
  MICROSOFT_MAX_EVENTS,
  microsoftAdsDestination as ms,
} from './microsoft-ads.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)';
const TAG = '97247724';
const TOKEN = 'uet-capi-token';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
type Settings = { tag_id: string; access_token: string };

function ctx(over: Partial<DestinationConfig> = {}): DeliveryContext<Settings> {
  const settings = { tag_id: TAG, access_token: TOKEN };
  const dest = testDestination({ id: 'ms', type: 'microsoft_ads', settings, ...over });
  return { dest, settings, nowMs: NOW };
}

const webUser: UserKeys = {
  email_sha256: hashEmail('Test@Example.com')!,
  phone_sha256: hashPhone('+1 425 555 0100')!,
  phone_e164_sha256: hashPhoneE164('+1 425 555 0100')!,
  ip: '203.0.113.9',
  user_agent: UA,
  msclkid: 'cdd4afcccb1c9a4cad9544dd7e5006d5',
};

const item = (over: TestItemOptions = {}): DeliveryItem => {
  const it = testItem(
    {
      dest_id: 'ms',
      source: 'tag',
      nowS: NOW_S,
      user: webUser,
      props: {
        value: 49.9,
        currency: 'EUR',
        order_id: 'T-1001',
        content_ids: ['sku1', 'sku2'],
        url: 'https://shop.example/thanks',
      },
    },
    over,
  );
  return { ...it, event: { ...it.event, consent: { ads: true, analytics: true } } };
};

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(ms.buildRequest(items, c).body ?? '{}');
const answer = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json),
});

describe('microsoft ads request', () => {
  it('MS01 posts data[] to /v1/{tagId}/events with the token as a Bearer header', () => {
    const req = ms.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`http://127.0.0.1:9/v1/${TAG}/events`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.url).not.toContain(TOKEN);
    expect(JSON.parse(req.body ?? '')).toEqual({
      continueOnValidationError: true,
      data: [
        {
          eventType: 'custom',
          eventId: 'ord-1',
          eventName: 'purchase',
          eventTime: NOW_S - 600,
          eventSourceUrl: 'https://shop.example/thanks',
          adStorageConsent: 'G',
          userData: {
            msclkid: 'cdd4afcc-cb1c-9a4c-ad95-44dd7e5006d5',
            em: sha('test@example.com'),
            ph: sha('+14255550100'),
            clientIpAddress: '203.0.113.9',
            clientUserAgent: UA,
          },
          customData: {
            value: 49.9,
            currency: 'EUR',
            transactionId: 'T-1001',
            itemIds: ['sku1', 'sku2'],
          },
        },
      ],
    });
  });

  it('MS02 msclkid: 32 hex digits or the cookie form GUID-1 become the dashed GUID', () => {
    expect(formatMsclkid('CDD4AFCCCB1C9A4CAD9544DD7E5006D5-1')).toBe(
      'cdd4afcc-cb1c-9a4c-ad95-44dd7e5006d5',
    );
    expect(formatMsclkid('cdd4afcc-cb1c-9a4c-ad95-44dd7e5006d5')).toBe(
      'cdd4afcc-cb1c-9a4c-ad95-44dd7e5006d5',
    );
  });

  it('MS03 a user id goes as hashed externalId; device ids pass; unknown consent sends none', () => {
    const it = item({ user: { user_id: 'U42', idfa: 'IDFA-1', gaid: 'gaid-1' } });
    it.event = { ...it.event, consent: { ads: null, analytics: null } };
    const d = body([it]).data[0];
    expect(d.userData).toEqual({ externalId: sha('u42'), idfa: 'IDFA-1', gaid: 'gaid-1' });
    expect(d).not.toHaveProperty('adStorageConsent');
  });

  it('MS04 our names map to UET event actions; event_map overrides; PageView is a pageLoad', () => {
    const names = body(
      [
        item({ name: 'AddToCart', id: 'a' }),
        item({ name: 'Lead', id: 'b' }),
        item({ name: 'Contact', id: 'c' }),
      ],
      ctx({ event_map: { Contact: 'call_click' } }),
    ).data.map((d: { eventName: string }) => d.eventName);
    expect(names).toEqual(['add_to_cart', 'submit_lead_form', 'call_click']);
    const page = body([item({ name: 'PageView', props: { url: 'https://shop.example/' } })])
      .data[0];
    expect(page).toMatchObject({ eventType: 'pageLoad', eventSourceUrl: 'https://shop.example/' });
    expect(page).not.toHaveProperty('eventName');
    expect(page).not.toHaveProperty('customData');
  });

  it('MS05 the settings schema masks the token, wants a numeric tag id, refuses unknown fields', () => {
    expect(Value.Check(ms.settingsSchema, { tag_id: TAG, access_token: 't' })).toBe(true);
    expect(Value.Check(ms.settingsSchema, { tag_id: 'abc', access_token: 't' })).toBe(false);
    expect(Value.Check(ms.settingsSchema, { tag_id: TAG })).toBe(false);
    expect(Value.Check(ms.settingsSchema, { tag_id: TAG, access_token: 't', x: 1 })).toBe(false);
    expect(secretFields(ms.settingsSchema)).toEqual(['access_token']);
    expect(ms.maxBatch).toBe(MICROSOFT_MAX_EVENTS);
    expect(ms.buildRequest([item()], ctx({ base_url: null })).url).toBe(
      `https://capi.uet.microsoft.com/v1/${TAG}/events`,
    );
  });

  it('MS06 contents go as items (id, quantity, price) and their ids as itemIds', () => {
    const d = body([
      item({
        props: { value: 40, currency: 'EUR', contents: [{ id: 'a', quantity: 2, item_price: 20 }] },
      }),
    ]).data[0];
    expect(d.customData).toEqual({
      value: 40,
      currency: 'EUR',
      itemIds: ['a'],
      items: [{ id: 'a', quantity: 2, price: 20 }],
    });
  });
});

describe('microsoft ads refuse', () => {
  it('MS10 denied ads consent and test_mode send nothing', () => {
    const denied = item();
    denied.event = { ...denied.event, consent: { ads: false, analytics: true } };
    expect(ms.refuse?.(denied, ctx())).toBe('ads consent denied');
    expect(ms.refuse?.(item(), ctx({ test_mode: true }))).toMatch(/no test channel/);
    expect(ms.refuse?.(item(), ctx())).toBeNull();
  });

  it('MS11 an event older than 7 days is refused, and ingest knows the limit', () => {
    expect(ms.maxEventAgeS?.(undefined)).toBe(7 * 86_400);
    expect(ms.refuse?.(item({ time: NOW_S - 7 * 86_400 - 1 }), ctx())).toMatch(/^event too old/);
    expect(ms.refuse?.(item({ time: NOW_S - 6 * 86_400 }), ctx())).toBeNull();
  });

  it('MS12 no identifier, a page load without URL, or a value without currency are refused', () => {
    expect(ms.refuse?.(item({ user: { user_agent: UA } }), ctx())).toMatch(/no user identifier/);
    expect(ms.refuse?.(item({ user: { ip: '203.0.113.9' } }), ctx())).toBeNull();
    expect(ms.refuse?.(item({ name: 'PageView', props: {} }), ctx())).toMatch(/page URL/);
    expect(ms.refuse?.(item({ props: { value: 3 } }), ctx())).toMatch(/currency/);
  });
});

describe('microsoft ads interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' })];
  const read = (r: HttpResult) => ms.interpret!(r, items, NOW);

  it('MS20 a 200 with every event received delivers every item', () => {
    const r = read(answer(200, { eventsReceived: 2 }));
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
  });

  it('MS21 a 200 naming a skipped event by index drops only it; a warning is no failure', () => {
    const r = read(
      answer(200, {
        eventsReceived: 1,
        error: {
          code: 'PartialSuccess',
          message: 'Some events failed validation',
          details: [
            { index: 1, propertyName: 'eventTime', errorMessage: 'eventTime is too old' },
            { index: 0, propertyName: 'pageTitle', errorMessage: 'removed', isWarning: true },
          ],
        },
      }),
    );
    expect(r.verdicts).toEqual([
      { action: 'done' },
      { action: 'drop', reason: 'refused by Microsoft: eventTime: eventTime is too old' },
    ]);
    expect(r.detail).toBe(
      'Some events failed validation; event 1: eventTime: eventTime is too old',
    );
  });

  it('MS22 a 400 drops the batch', () => {
    const r = read(answer(400, { error: { code: 'InvalidRequest', message: 'data is required' } }));
    expect(r.verdicts[1]).toEqual({
      action: 'drop',
      reason: 'refused by Microsoft: data is required',
    });
  });

  it.each([401, 403])('MS23 %i pauses the destination (token refused for the tag)', (status) => {
    const r = read(answer(status, { error: { code: 'Unauthorized', message: 'Invalid token' } }));
    expect(r.verdicts[0]).toEqual({
      action: 'pause',
      reason: 'Conversions API token refused for this UET tag: Invalid token',
    });
  });

  it('MS24 429 waits for Retry-After; 5xx and network errors retry; 404 pauses', () => {
    expect(read(answer(429, {}, '30')).verdicts[0]).toMatchObject({
      action: 'retry',
      retryAfterMs: 30_000,
    });
    expect(read(answer(500, {})).verdicts[0].action).toBe('retry');
    expect(read({ kind: 'network', error: 'ETIMEDOUT' }).verdicts[0].action).toBe('retry');
    expect(read(answer(404, { error: { message: 'Tag not found' } })).verdicts[0]).toEqual({
      action: 'pause',
      reason: 'no such UET tag: Tag not found',
    });
  });
});
