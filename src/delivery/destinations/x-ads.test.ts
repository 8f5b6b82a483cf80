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
import { hmacSha1Signature, signatureBaseString } from './oauth1.js';
import { X_MAX_EVENTS, xAdsDestination as x } from './x-ads.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const PIXEL = 'o8z6j';
const TWCLID = '23opevjt88psuo13lu8d020qkn';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SETTINGS = {
  pixel_id: PIXEL,
  event_id: 'tw-o8z6j-o87ne',
  consumer_key: 'ck-app',
  consumer_secret: 'cs-secret',
  access_token: '370773112-token',
  access_token_secret: 'ts-secret',
};
type Settings = typeof SETTINGS;

function ctx(over: Partial<DestinationConfig> = {}, settings: Partial<Settings> = {}) {
  const s = { ...SETTINGS, ...settings } as Settings;
  const dest = testDestination({ id: 'x', type: 'x_ads', settings: s, ...over });
  return { dest, settings: s, nowMs: NOW } satisfies DeliveryContext<Settings>;
}

const webUser: UserKeys = {
  email_sha256: hashEmail(' Person@Example.com ')!,
  phone_sha256: hashPhone('+1 202 555 0142')!,
  phone_e164_sha256: hashPhoneE164('+1 202 555 0142')!,
  ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0',
  twclid: TWCLID,
};

const item = (over: TestItemOptions = {}): DeliveryItem =>
  testItem(
    {
      dest_id: 'x',
      source: 'tag',
      nowS: NOW_S,
      user: webUser,
      props: { value: 100, currency: 'JPY', content_ids: ['sku1', 'sku2'] },
    },
    over,
  );

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(x.buildRequest(items, c).body ?? '{}');
const answer = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json),
});

/** The OAuth header's parameters, decoded. */
function oauthParams(header: string): Record<string, string> {
  expect(header.startsWith('OAuth ')).toBe(true);
  return Object.fromEntries(
    header
      .slice(6)
      .split(', ')
      .map((p) => {
        const [k, v] = p.split('=');
        return [decodeURIComponent(k), decodeURIComponent(v.slice(1, -1))];
      }),
  );
}

describe('x conversions request', () => {
  it('XA01 posts conversions[] to /12/measurement/conversions/:pixel_id', () => {
    const req = x.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`http://127.0.0.1:9/12/measurement/conversions/${PIXEL}`);
    expect(JSON.parse(req.body ?? '')).toEqual({
      conversions: [
        {
          conversion_time: new Date((NOW_S - 600) * 1000).toISOString(),
          event_id: 'tw-o8z6j-o87ne',
          identifiers: [
            { twclid: TWCLID },
            { hashed_email: sha('person@example.com') },
            { hashed_phone_number: sha('+12025550142') },
            { ip_address: '203.0.113.9', user_agent: 'Mozilla/5.0' },
          ],
          conversion_id: 'ord-1',
          value: 100,
          price_currency: 'JPY',
          number_items: 2,
          contents: [{ content_id: 'sku1' }, { content_id: 'sku2' }],
        },
      ],
    });
  });

  it('XA02 the request carries a valid OAuth 1.0a HMAC-SHA1 signature of method and URL', () => {
    const req = x.buildRequest([item()], ctx());
    const p = oauthParams(req.headers.authorization);
    expect(p).toMatchObject({
      oauth_consumer_key: 'ck-app',
      oauth_token: '370773112-token',
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: String(NOW_S),
      oauth_version: '1.0',
    });
    const { oauth_signature, ...signed } = p;
    const base = signatureBaseString({ method: 'POST', url: req.url }, Object.entries(signed));
    expect(oauth_signature).toBe(hmacSha1Signature(base, 'cs-secret', 'ts-secret'));
    expect(req.headers.authorization).not.toContain('cs-secret');
    expect(req.headers.authorization).not.toContain('ts-secret');
    const again = oauthParams(x.buildRequest([item()], ctx()).headers.authorization);
    expect(again.oauth_nonce).not.toBe(p.oauth_nonce);
  });

  it('XA03 event_map names the X event per event name; event_id covers the rest', () => {
    const c = ctx({ event_map: { Lead: 'tw-o8z6j-o9p5x' } });
    const d = body([item({ id: 'a' }), item({ name: 'Lead', id: 'b', props: {} })], c).conversions;
    expect(d.map((v: { event_id: string }) => v.event_id)).toEqual([
      'tw-o8z6j-o87ne',
      'tw-o8z6j-o9p5x',
    ]);
    expect(d[1]).not.toHaveProperty('value');
    expect(d[1]).not.toHaveProperty('number_items');
  });

  it('XA04 num_items wins over the count of ids; IP without user agent is not sent', () => {
    const d = body([item({ user: { twclid: TWCLID, ip: '203.0.113.9' }, props: { num_items: 5 } })])
      .conversions[0];
    expect(d.number_items).toBe(5);
    expect(d.identifiers).toEqual([{ twclid: TWCLID }]);
  });

  it('XA06 contents go with their quantity and price; number_items adds the quantities', () => {
    const d = body([
      item({
        props: {
          value: 50,
          currency: 'EUR',
          contents: [
            { id: 'a', quantity: 2, item_price: 20 },
            { id: 'b', item_price: 10 },
          ],
        },
      }),
    ]).conversions[0];
    expect(d.contents).toEqual([
      { content_id: 'a', num_items: 2, content_price: 20 },
      { content_id: 'b', content_price: 10 },
    ]);
    expect(d.number_items).toBe(3);
  });

  it('XA05 the settings schema masks the three secrets and checks the ids', () => {
    expect(Value.Check(x.settingsSchema, SETTINGS)).toBe(true);
    expect(Value.Check(x.settingsSchema, { ...SETTINGS, pixel_id: 'O8Z6J!' })).toBe(false);
    expect(Value.Check(x.settingsSchema, { ...SETTINGS, event_id: 'tw-o8z6j-' })).toBe(false);
    const { access_token_secret: _, ...missing } = SETTINGS;
    expect(Value.Check(x.settingsSchema, missing)).toBe(false);
    expect(secretFields(x.settingsSchema).sort()).toEqual([
      'access_token',
      'access_token_secret',
      'consumer_secret',
    ]);
    expect(x.maxBatch).toBe(X_MAX_EVENTS);
    expect(x.buildRequest([item()], ctx({ base_url: null })).url).toBe(
      `https://ads-api.x.com/12/measurement/conversions/${PIXEL}`,
    );
  });
});

describe('x conversions refuse', () => {
  it('XA10 denied ads consent and test_mode send nothing', () => {
    const denied = item();
    denied.event = { ...denied.event, consent: { ads: false, analytics: null } };
    expect(x.refuse?.(denied, ctx())).toBe('ads consent denied');
    expect(x.refuse?.(item(), ctx({ test_mode: true }))).toMatch(/no test channel/);
    expect(x.refuse?.(item(), ctx())).toBeNull();
  });

  it('XA11 an event with no X event id is refused with how to fix it', () => {
    expect(x.refuse?.(item({ name: 'Lead' }), ctx({}, { event_id: undefined }))).toBe(
      'no X event for "Lead": set event_id or name one in event_map',
    );
  });

  it('XA12 no twclid, email or phone: refused (IP and user agent alone do not match)', () => {
    expect(x.refuse?.(item({ user: { ip: '203.0.113.9', user_agent: 'UA' } }), ctx())).toMatch(
      /no identifier X accepts/,
    );
    expect(x.refuse?.(item({ user: { twclid: TWCLID } }), ctx())).toBeNull();
  });

  it('XA13 a value without currency is refused (X would read it as USD)', () => {
    expect(x.refuse?.(item({ props: { value: 10 } }), ctx())).toMatch(/currency/);
  });
});

describe('x conversions interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' })];
  const read = (r: HttpResult) => x.interpret!(r, items, NOW);

  it('XA20 a 200 delivers the batch', () => {
    const r = read(answer(200, { data: { conversions_processed: 2, debug_id: 'd1' } }));
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('2 conversions processed');
  });

  it("XA21 a 400 drops the batch with X's words", () => {
    const r = read(
      answer(400, {
        errors: [
          { code: 'INVALID_PARAMETER', message: 'At least one user identifier must be provided' },
        ],
      }),
    );
    expect(r.verdicts[1]).toEqual({
      action: 'drop',
      reason:
        'conversions refused by X: INVALID_PARAMETER: At least one user identifier must be provided',
    });
  });

  it('XA22 401, 403 and 404 pause the destination, each saying why', () => {
    const err = { errors: [{ code: 'UNAUTHORIZED_ACCESS', message: 'denied' }] };
    expect(read(answer(401, err)).verdicts[0]).toEqual({
      action: 'pause',
      reason: 'OAuth credentials refused: UNAUTHORIZED_ACCESS: denied',
    });
    expect(read(answer(403, err)).verdicts[0]).toMatchObject({ action: 'pause' });
    expect(read(answer(404, { errors: [{ code: 'NOT_FOUND' }] })).verdicts[0]).toEqual({
      action: 'pause',
      reason: 'no such pixel: NOT_FOUND',
    });
  });

  it('XA23 429 waits for Retry-After; 5xx and network errors retry', () => {
    expect(
      read(answer(429, { errors: [{ code: 'TOO_MANY_REQUESTS' }] }, '60')).verdicts[0],
    ).toEqual({ action: 'retry', reason: 'HTTP 429: TOO_MANY_REQUESTS', retryAfterMs: 60_000 });
    expect(read(answer(503, {})).verdicts[0].action).toBe('retry');
    expect(read({ kind: 'network', error: 'ECONNREFUSED' }).verdicts[0].action).toBe('retry');
  });
});
