import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import {
  type TestItemOptions,
  testDestination,
  testItem,
} from '../../../test/fixtures/destination.js';
import { secretFields } from '../../config/config-parse.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import { decideConsent } from '../../domain/consent.js';
import type { UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone, sha256Hex } from '../../domain/identity.js';
import { validateEvent } from '../../domain/validation.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import { META_MAX_EVENTS, metaDestination as meta } from './meta.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
/** SHA-256 of `test@example.com`, the vector every platform's docs agree on. */
const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0';
const FBC = 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890';
const FBP = 'fb.1.1558571054389.1098115397';
const TOKEN = 'EAAB-secret-token';
type Settings = {
  pixel_id: string;
  access_token: string;
  api_version?: string;
  test_event_code?: string;
  limited_data_use?: boolean;
};

function ctx(
  over: Partial<DestinationConfig> = {},
  settings: Partial<Settings> = {},
): DeliveryContext<Settings> {
  const s = { pixel_id: '1234567890', access_token: TOKEN, ...settings };
  const dest = testDestination({
    id: 'fb',
    type: 'meta',
    batch: { size: META_MAX_EVENTS, max_wait_ms: 0 },
    settings: s,
    ...over,
  });
  return { dest, settings: s, nowMs: NOW };
}

const webUser: UserKeys = {
  email_sha256: hashEmail(' Test@Example.com ')!,
  phone_sha256: hashPhone('+1 (650) 555-1212')!,
  user_id: 'U42',
  ip: '203.0.113.9',
  user_agent: UA,
  fbc: FBC,
  fbp: FBP,
};

const item = (over: TestItemOptions = {}): DeliveryItem =>
  testItem(
    {
      dest_id: 'fb',
      source: 'tag',
      nowS: NOW_S,
      user: webUser,
      props: {
        value: 49.9,
        currency: 'EUR',
        content_ids: ['sku1', 'sku2'],
        order_id: 'A-1001',
        url: 'https://shop.example/checkout/done',
      },
    },
    over,
  );

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(meta.buildRequest(items, c).body ?? '{}');

const graphError = (
  status: number,
  error: Record<string, unknown>,
  retryAfter: string | null = null,
): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify({
    error: { type: 'OAuthException', fbtrace_id: 'AbC123', ...error },
  }),
});

describe('meta request', () => {
  it('M01 posts data[] as JSON to /{api_version}/{pixel_id}/events with the token in the body', () => {
    const req = meta.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/v21.0/1234567890/events');
    expect(req.url).not.toContain(TOKEN);
    expect(req.headers['content-type']).toBe('application/json');
    const b = JSON.parse(req.body ?? '');
    expect(b.access_token).toBe(TOKEN);
    expect(b).not.toHaveProperty('test_event_code');
    expect(b.data).toEqual([
      {
        event_name: 'Purchase',
        event_time: NOW_S - 600,
        event_id: 'ord-1',
        action_source: 'website',
        event_source_url: 'https://shop.example/checkout/done',
        user_data: {
          em: [TEST_EMAIL_SHA],
          ph: [sha256Hex('16505551212')],
          external_id: [sha256Hex('u42')],
          client_ip_address: '203.0.113.9',
          client_user_agent: UA,
          fbc: FBC,
          fbp: FBP,
        },
        custom_data: {
          value: 49.9,
          currency: 'EUR',
          content_ids: ['sku1', 'sku2'],
          content_type: 'product',
          order_id: 'A-1001',
        },
      },
    ]);
  });

  it('M02 email, phone and user id are SHA-256 hex; IP, user agent, fbc, fbp stay in clear', () => {
    const u = body([item()]).data[0].user_data;
    expect(u.em).toEqual([TEST_EMAIL_SHA]);
    // Meta's phone rule: digits with country code, no "+": 16505551212.
    expect(u.ph).toEqual(['e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176']);
    for (const v of [...u.em, ...u.ph, ...u.external_id]) expect(v).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(u)).not.toContain('test@example.com');
    expect([u.client_ip_address, u.client_user_agent, u.fbc, u.fbp]).toEqual([
      '203.0.113.9',
      UA,
      FBC,
      FBP,
    ]);
  });

  it('M03 api_version and base_url are configurable; the public host is the default', () => {
    const req = meta.buildRequest([item()], ctx({}, { api_version: 'v22.0' }));
    expect(req.url).toBe('http://127.0.0.1:9/v22.0/1234567890/events');
    expect(meta.buildRequest([item()], ctx({ base_url: null })).url).toBe(
      'https://graph.facebook.com/v21.0/1234567890/events',
    );
  });

  it('M04 standard names pass as Meta events, event_map overrides, custom names go as sent', () => {
    const c = ctx({ event_map: { Lead: 'SubmitApplication' } });
    const names = body(
      [
        item({ name: 'AddToCart', id: 'a' }),
        item({ name: 'Lead', id: 'b' }),
        item({ name: 'QuoteSent', id: 'c' }),
      ],
      c,
    ).data.map((d: { event_name: string }) => d.event_name);
    expect(names).toEqual(['AddToCart', 'SubmitApplication', 'QuoteSent']);
  });

  it('M05 action_source is website with a URL and user agent, else other, unless the event names one', () => {
    const backend = item({
      user: { email_sha256: TEST_EMAIL_SHA },
      props: { value: 1, currency: 'USD' },
    });
    const store = item({ props: { value: 1, currency: 'USD', action_source: 'physical_store' } });
    const [web, server, shop] = body([item(), backend, store]).data;
    expect(web.action_source).toBe('website');
    expect(server.action_source).toBe('other');
    expect(server).not.toHaveProperty('event_source_url');
    expect(shop.action_source).toBe('physical_store');
  });

  it('M06 test_event_code goes only in test_mode, never on production; test_mode without one is refused', () => {
    const code = { test_event_code: 'TEST123' };
    expect(body([item()], ctx({ test_mode: true }, code)).test_event_code).toBe('TEST123');
    expect(body([item()], ctx({}, code))).not.toHaveProperty('test_event_code');
    expect(meta.refuse?.(item(), ctx({ test_mode: true }))).toMatch(/test_event_code/);
    expect(meta.refuse?.(item(), ctx({ test_mode: true }, { test_event_code: 'T1' }))).toBeNull();
  });

  it('M07 one request carries up to 1,000 events', () => {
    expect(meta.maxBatch).toBe(1000);
    const items = Array.from({ length: META_MAX_EVENTS }, (_, i) => item({ id: `o${i}` }));
    expect(body(items).data).toHaveLength(1000);
  });

  it('M08 the settings schema wants a numeric pixel id and marks the token secret', () => {
    const schema = meta.settingsSchema;
    expect(Value.Check(schema, { pixel_id: '123', access_token: 't' })).toBe(true);
    expect(Value.Check(schema, { pixel_id: 'abc', access_token: 't' })).toBe(false);
    expect(Value.Check(schema, { pixel_id: '1', access_token: 't', api_version: '21' })).toBe(
      false,
    );
    expect(Value.Check(schema, { pixel_id: '1', access_token: 't', extra: 1 })).toBe(false);
    expect(secretFields(schema)).toEqual(['access_token']);
  });
});

describe('meta refuse', () => {
  it('M10 an event older than 7 days is refused before it can sink a batch', () => {
    expect(meta.refuse?.(item({ time: NOW_S - 7 * 86_400 - 1 }), ctx())).toMatch(/^event too old/);
    expect(meta.refuse?.(item({ time: NOW_S - 7 * 86_400 + 60 }), ctx())).toBeNull();
  });

  it('M11 a Purchase without value and currency is refused; other events need neither', () => {
    expect(meta.refuse?.(item({ props: { value: 10 } }), ctx())).toMatch(/value and currency/);
    expect(meta.refuse?.(item({ name: 'Lead', props: {} }), ctx())).toBeNull();
  });

  it('M12 an event with nothing Meta can match on is refused', () => {
    expect(meta.refuse?.(item({ user: { anonymous_id: 'p1', ip: '203.0.113.9' } }), ctx())).toMatch(
      /no customer information/,
    );
    expect(meta.refuse?.(item({ user: { fbp: FBP } }), ctx())).toBeNull();
  });
});

describe('meta interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' })];
  const read = (r: HttpResult) => meta.interpret!(r, items, NOW);

  it('M20 a 200 with events_received delivers every item', () => {
    const r = read({
      kind: 'response',
      status: 200,
      retryAfter: null,
      bodyExcerpt: '{"events_received":2,"messages":[],"fbtrace_id":"x"}',
    });
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('events_received 2');
  });

  it('M21 code 190 pauses the destination', () => {
    const r = read(
      graphError(400, {
        code: 190,
        error_subcode: 463,
        message: 'Error validating access token: Session has expired',
      }),
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['pause', 'pause']);
    expect(r.detail).toMatch(
      /^access token refused: .*Session has expired \(code 190\/463, fbtrace_id AbC123\)/,
    );
  });

  it('M22 code 100 (invalid parameter) drops without retrying', () => {
    const r = read(
      graphError(400, {
        code: 100,
        message: 'Invalid parameter',
        error_user_msg: 'The value of event_name is invalid',
      }),
    );
    expect(r.verdicts[0]).toEqual({
      action: 'drop',
      reason: 'invalid parameter: The value of event_name is invalid (code 100, fbtrace_id AbC123)',
    });
  });

  it('M23 code 100 subcode 33 pauses: the pixel id does not exist or the token cannot reach it', () => {
    const r = read(
      graphError(400, {
        code: 100,
        error_subcode: 33,
        type: 'GraphMethodException',
        message: "Unsupported post request. Object with ID '1' does not exist",
      }),
    );
    expect(r.verdicts[0].action).toBe('pause');
    expect(r.detail).toMatch(/^invalid pixel id/);
  });

  it('M24 code 100 subcode 2804003 drops as event too old', () => {
    const r = read(
      graphError(400, { code: 100, error_subcode: 2804003, message: 'Invalid parameter' }),
    );
    expect(r.verdicts[0].action).toBe('drop');
    expect(r.detail).toMatch(/^event too old/);
  });

  it.each([4, 17, 32, 613, 80004])('M25 code %i retries as rate limited', (code) => {
    const r = read(graphError(400, { code, message: 'Application request limit reached' }));
    expect(r.verdicts[0]).toMatchObject({ action: 'retry' });
    expect(r.detail).toMatch(/^rate limited: /);
  });

  it('M26 a rate limit with Retry-After waits that long, and says so', () => {
    const r = read(graphError(429, { code: 17, message: 'User request limit reached' }, '30'));
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(r.detail).toMatch(/^rate limited, retry after 30 s/);
  });

  it.each([1, 2])('M27 code %i (temporary) retries', (code) => {
    const r = read(graphError(500, { code, message: 'An unexpected error has occurred' }));
    expect(r.verdicts[0].action).toBe('retry');
  });

  it('M28 a permission error (code 10 or 200-299) pauses', () => {
    expect(
      read(graphError(403, { code: 200, message: 'Permissions error' })).verdicts[0].action,
    ).toBe('pause');
    expect(
      read(graphError(400, { code: 10, message: 'Permission denied' })).verdicts[0].action,
    ).toBe('pause');
  });

  it('M29 an answer that is not a Graph error falls back to the status class', () => {
    const html = {
      kind: 'response' as const,
      status: 502,
      retryAfter: null,
      bodyExcerpt: '<html>Bad gateway</html>',
    };
    expect(read(html).verdicts[0].action).toBe('retry');
    expect(read({ kind: 'network', error: 'ECONNREFUSED' }).verdicts[0].action).toBe('retry');
    expect(read({ ...html, status: 400 }).verdicts[0].action).toBe('drop');
  });
});

describe('Meta: everything it matches on (issue 20 §3)', () => {
  /** The event as the contract takes it, validated (and hashed) like the events API does. */
  function fromContract(user: Record<string, unknown>, properties: Record<string, unknown>) {
    const r = validateEvent(
      { event_name: 'Purchase', event_id: 'ord-9', event_time: NOW_S - 60, user, properties },
      { nowMs: NOW, source: 'server', envId: 'env_t', newId: () => 'x' },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const base = item();
    const { value = null, currency = null } = r.event.properties;
    return { ...base, event: r.event, conversion: { ...base.conversion, value, currency } };
  }

  it("M30 user_data carries fn, ln, ge, db, ct, st, zp and country hashed by Meta's rules", () => {
    const it = fromContract(
      {
        email: 'John_Smith@gmail.com',
        first_name: 'Mary',
        last_name: 'Valéry',
        gender: 'Female',
        date_of_birth: '2/16/1997',
        city: 'New York',
        state: 'California',
        zip: '94035-1234',
        country: 'United States',
        ip: '203.0.113.9',
        user_agent: UA,
        fbc: FBC,
        fbp: FBP,
      },
      { value: 10, currency: 'USD' },
    );
    const u = body([it]).data[0].user_data;
    expect(u).toEqual({
      em: ['62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'],
      fn: ['6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec'],
      ln: ['08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c'],
      ge: [sha256Hex('f')],
      db: ['01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c'],
      ct: [sha256Hex('newyork')],
      st: [sha256Hex('ca')],
      zp: [sha256Hex('94035')],
      country: ['79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621'],
      client_ip_address: '203.0.113.9',
      client_user_agent: UA,
      fbc: FBC,
      fbp: FBP,
    });
    // Nothing of the clear values reaches Meta (they ride in transit only for platforms that
    // need them, never stored: test/integration/clear-user.test.ts).
    expect(JSON.stringify(body([it]))).not.toMatch(/Mary|Valéry|New York|California|94035-1234/);
  });

  it('M31 custom_data.contents with id, quantity and item_price; ids and item count follow', () => {
    const it = fromContract(
      { email: 'a@b.co' },
      {
        value: 59.9,
        currency: 'EUR',
        order_id: 'A-77',
        contents: [
          { id: 'sku1', quantity: 2, item_price: 19.95 },
          { id: 'sku2', quantity: '1', item_price: '20' },
        ],
      },
    );
    expect(body([it]).data[0].custom_data).toEqual({
      value: 59.9,
      currency: 'EUR',
      content_ids: ['sku1', 'sku2'],
      content_type: 'product',
      contents: [
        { id: 'sku1', quantity: 2, item_price: 19.95 },
        { id: 'sku2', quantity: 1, item_price: 20 },
      ],
      order_id: 'A-77',
      num_items: 3,
    });
  });

  it('M32 a store sale up to 62 days old goes with action_source physical_store', () => {
    const store = item({ time: NOW_S - 30 * 86_400 });
    store.event.action_source = 'physical_store';
    expect(meta.refuse?.(store, ctx())).toBeNull();
    expect(body([store]).data[0].action_source).toBe('physical_store');
    const older = item({ time: NOW_S - 63 * 86_400 });
    older.event.action_source = 'physical_store';
    expect(meta.refuse?.(older, ctx())).toBe(
      'event too old: Meta refuses physical_store events older than 62 days',
    );
    const web = item({ time: NOW_S - 8 * 86_400 });
    expect(meta.refuse?.(web, ctx())).toBe(
      'event too old: Meta refuses website events older than 7 days',
    );
    expect(meta.maxEventAgeS?.('system_generated')).toBe(62 * 86_400);
    expect(meta.maxEventAgeS?.(undefined)).toBe(7 * 86_400);
  });

  it('M33 a US opt-out of sale goes with Limited Data Use when the destination opts for it', () => {
    const optedOut = item();
    optedOut.event.consent = decideConsent({
      stated: { ads: null, analytics: null },
      consentDefault: 'granted',
      gpc: true,
      tcfVendorId: null,
    });
    expect(optedOut.event.consent.ads).toBe(false);
    const ldu = body([optedOut], ctx({}, { limited_data_use: true })).data[0];
    expect(ldu).toMatchObject({
      data_processing_options: ['LDU'],
      data_processing_options_country: 0,
      data_processing_options_state: 0,
    });
    expect(body([optedOut]).data[0].data_processing_options).toBeUndefined();
    expect(
      body([item()], ctx({}, { limited_data_use: true })).data[0].data_processing_options,
    ).toBeUndefined();
  });

  it('M34 a stated denial or a TCF refusal is never sent under LDU', () => {
    const stated = item();
    stated.event.consent = decideConsent({
      stated: { ads: false, analytics: null },
      consentDefault: 'granted',
      gpc: true,
      tcfVendorId: null,
    });
    expect(
      body([stated], ctx({}, { limited_data_use: true })).data[0].data_processing_options,
    ).toBeUndefined();
  });
});
