import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { hashEmail, sha256Hex } from '../../domain/identity.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  ga4Destination as ga4,
  ga4ClientId,
  ga4EventName,
  interpretGa4,
  MP_MAX_EVENTS_PER_REQUEST,
} from './ga4.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const settings = { measurement_id: 'G-TEST123', api_secret: 's3cr3t' };

function dest(over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({
    id: 'ga',
    type: 'ga4',
    batch: { size: 1, max_wait_ms: 0 },
    settings,
    ...over,
  });
}

function item(user: UserKeys = { anonymous_id: 'ptid-1' }, over: Partial<TrackedEvent> = {}) {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: 'ord-1',
    event_time: NOW_S - 600,
    source: 'tag',
    user,
    properties: { value: 49.9, currency: 'EUR', content_ids: ['sku1', 'sku2'] },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
  const conversion: ConversionRecord = {
    conversion_id: 'cv-1',
    dest_id: 'ga',
    env_id: 'env_t',
    event_pk: 'pk-1',
    event_name: event.event_name,
    event_id: event.event_id,
    event_time: event.event_time,
    value: 49.9,
    currency: 'EUR',
    attribution: {
      type: 'view',
      imp_id: 'imp-7',
      click_id: null,
      campaign_id: 'c1',
      creative_id: null,
      placement_id: null,
      touch_time: NOW_S - 3600,
      match_key: 'cookie',
      match_type: 'deterministic',
      window: '1d',
      model: 'last_touch',
    },
    reason: null,
    created_at_ms: NOW,
  };
  return { outbox_id: 1, conversion, event } satisfies DeliveryItem;
}

const ctx = (d = dest()) => ({ dest: d, settings, nowMs: NOW });
const body = (i: DeliveryItem, d = dest()) => JSON.parse(ga4.buildRequest([i], ctx(d)).body!);
const ok = (status: number, text = ''): HttpResult => ({
  kind: 'response',
  status,
  retryAfter: null,
  bodyExcerpt: text,
});

describe('ga4 request', () => {
  it('G01 POSTs /mp/collect with measurement_id and api_secret in the query', () => {
    const req = ga4.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    const url = new URL(req.url);
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:9/mp/collect');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      measurement_id: 'G-TEST123',
      api_secret: 's3cr3t',
    });
    expect(req.headers['content-type']).toBe('application/json');
  });

  it('G02 a purchase carries transaction_id, value, currency and items', () => {
    const b = body(item({ anonymous_id: 'ptid-1', user_id: 'u42' }));
    expect(b).toMatchObject({
      client_id: expect.stringMatching(/^\d+\.\d+$/),
      user_id: 'u42',
      timestamp_micros: (NOW_S - 600) * 1_000_000,
    });
    expect(b.events).toEqual([
      {
        name: 'purchase',
        params: {
          timestamp_micros: (NOW_S - 600) * 1_000_000,
          value: 49.9,
          currency: 'EUR',
          items: [{ item_id: 'sku1' }, { item_id: 'sku2' }],
          transaction_id: 'ord-1',
          campaign_id: 'c1',
        },
      },
    ]);
    expect(
      body(item(undefined, { properties: { order_id: 'A-9' } })).events[0].params,
    ).toMatchObject({ transaction_id: 'A-9' });
  });

  it('G03 user_data sends the hashed email (known vector) and leaves the phone out', () => {
    expect(hashEmail('test@example.com')).toBe(EMAIL_SHA);
    const b = body(item({ user_id: 'u1', email_sha256: EMAIL_SHA, phone_sha256: 'b'.repeat(64) }));
    expect(b.user_data).toEqual({ sha256_email_address: [EMAIL_SHA] });
    expect(JSON.stringify(b)).not.toContain('b'.repeat(64));
    expect(body(item()).user_data).toBeUndefined();
  });

  it('G04 an email-looking user id is not sent (GA forbids PII in user_id)', () => {
    expect(body(item({ user_id: 'jane@example.com' })).user_id).toBeUndefined();
  });

  it('G05 our standard names become GA4 recommended events', () => {
    const table: Record<string, string> = {
      PageView: 'page_view',
      ViewContent: 'view_item',
      Search: 'search',
      AddToCart: 'add_to_cart',
      InitiateCheckout: 'begin_checkout',
      AddPaymentInfo: 'add_payment_info',
      Purchase: 'purchase',
      Lead: 'generate_lead',
      CompleteRegistration: 'sign_up',
      StartTrial: 'start_trial',
      Subscribe: 'subscribe',
      'Booked call!': 'booked_call',
    };
    for (const [ours, theirs] of Object.entries(table))
      expect(ga4EventName(dest(), ours), ours).toBe(theirs);
    expect(ga4EventName(dest({ event_map: { Lead: 'qualify_lead' } }), 'Lead')).toBe(
      'qualify_lead',
    );
  });

  it('G06 client_id: the _ga value when given, else stable per person from the ptid cookie', () => {
    const ga = item(undefined, { properties: { ga_client_id: 'GA1.1.1234567890.1763000000' } });
    expect(ga4ClientId(ga.event)).toBe('1234567890.1763000000');
    const a = ga4ClientId(item({ anonymous_id: 'ptid-1' }).event);
    expect(a).toMatch(/^[1-9]\d*\.[1-9]\d*$/);
    expect(ga4ClientId(item({ anonymous_id: 'ptid-1', user_id: 'x' }).event)).toBe(a);
    expect(ga4ClientId(item({ anonymous_id: 'ptid-2' }).event)).not.toBe(a);
    expect(ga4ClientId(item({}).event)).toMatch(/^\d+\.\d+$/);
  });

  it('G07 consent, IP and user agent go where the Measurement Protocol takes them', () => {
    const b = body(
      item(
        { anonymous_id: 'p', ip: '203.0.113.9', user_agent: 'Mozilla/5.0' },
        { consent: { ads: true, analytics: true } },
      ),
    );
    expect(b).toMatchObject({
      consent: { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' },
      ip_override: '203.0.113.9',
      user_agent: 'Mozilla/5.0',
    });
    expect(body(item()).consent).toBeUndefined();
  });

  it('G08 test mode posts to the validation server with strict validation', () => {
    const req = ga4.buildRequest([item()], ctx(dest({ test_mode: true })));
    expect(new URL(req.url).pathname).toBe('/debug/mp/collect');
    expect(JSON.parse(req.body!).validation_behavior).toBe('ENFORCE_RECOMMENDATIONS');
    expect(body(item()).validation_behavior).toBeUndefined();
  });

  it('G09 one conversion per request: a request has one client_id (GA allows 25 events)', () => {
    expect(ga4.maxBatch).toBe(1);
    expect(MP_MAX_EVENTS_PER_REQUEST).toBe(25);
    const same = Array.from({ length: 30 }, () => item());
    expect(JSON.parse(ga4.buildRequest(same, ctx()).body!).events).toHaveLength(25);
  });

  it('G10 settings: measurement_id and a secret api_secret', () => {
    expect(Value.Check(ga4.settingsSchema, settings)).toBe(true);
    expect(Value.Check(ga4.settingsSchema, { ...settings, measurement_id: 'UA-1-1' })).toBe(false);
    expect((ga4.settingsSchema as any).properties.api_secret.secret).toBe(true);
  });
});

describe('ga4 refusals', () => {
  const refuse = (i: DeliveryItem) => ga4.refuse!(i, ctx());
  it('G11 events older than 72 h are refused', () => {
    expect(refuse(item(undefined, { event_time: NOW_S - 73 * 3600 }))).toMatch(/72 h/);
    expect(refuse(item(undefined, { event_time: NOW_S - 71 * 3600 }))).toBeNull();
  });
  it('G12 analytics consent denied is refused', () => {
    expect(refuse(item(undefined, { consent: { ads: true, analytics: false } }))).toMatch(
      /analytics consent/,
    );
  });
});

describe('ga4 answers', () => {
  const one = [item()];
  it('G13 a 2xx from /mp/collect is done, noting that GA answers 2xx to anything', () => {
    const r = interpretGa4(ok(204), one, NOW);
    expect(r.verdicts[0].action).toBe('done');
    expect(r.detail).toMatch(/2xx even for payloads it discards/);
  });

  it('G14 validationMessages from the validation server drop the conversion with the reason', () => {
    const answer = {
      validationMessages: [
        {
          fieldPath: 'events',
          description:
            'Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character.',
          validationCode: 'NAME_INVALID',
        },
      ],
    };
    const r = interpretGa4(ok(200, JSON.stringify(answer, null, 2)), one, NOW);
    expect(r.verdicts[0]).toMatchObject({ action: 'drop', reason: /NAME_INVALID: Event at index/ });
    expect(r.detail).toMatch(/^GA4 validation failed: NAME_INVALID/);
  });

  it('G15 an empty validationMessages list is done', () => {
    const r = interpretGa4(ok(200, '{\n  "validationMessages": [ ]\n}'), one, NOW);
    expect(r).toEqual({
      verdicts: [{ action: 'done' }],
      detail: 'validation server: no problems found',
    });
  });

  it('G16 validation messages cut short are still read', () => {
    const text = `{"validationMessages":[{"fieldPath":"client_id","description":"Measurement requires a client_id.","validationCode":"VALUE_REQUIRED"},{"fieldPath":"ev`;
    const r = interpretGa4(ok(200, text), one, NOW);
    expect(r.verdicts[0]).toMatchObject({ action: 'drop', reason: /VALUE_REQUIRED/ });
  });

  it('G17 other statuses follow the status class; network errors retry', () => {
    expect(interpretGa4(ok(400, 'bad'), one, NOW).verdicts[0].action).toBe('drop');
    expect(interpretGa4(ok(500), one, NOW).verdicts[0].action).toBe('retry');
    const limited = interpretGa4({ ...ok(429), retryAfter: '30' } as HttpResult, one, NOW);
    expect(limited.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(interpretGa4({ kind: 'network', error: 'ETIMEDOUT' }, one, NOW).verdicts[0].action).toBe(
      'retry',
    );
  });

  it('GA99 user_data carries the phone hashed with the plus sign', () => {
    const ph = sha256Hex('+15550109999');
    const b = body(item({ anonymous_id: 'ptid-1', phone_e164_sha256: ph }));
    expect(b.user_data).toEqual({ sha256_phone_number: [ph] });
  });
});
