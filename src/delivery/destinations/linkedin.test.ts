import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { hashEmail, hashPhone } from '../../domain/identity.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  interpretLinkedin,
  LINKEDIN_DEFAULT_VERSION,
  LINKEDIN_MAX_EVENT_AGE_S,
  LINKEDIN_MAX_EVENTS,
  linkedinDestination as li,
  readLinkedinError,
  rowsNamed,
} from './linkedin.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const URN = 'urn:lla:llaPartnerConversion:104012';
const settings = { conversion_urn: URN, access_token: 'AQV-linkedin-token' };
const LI_FAT_ID = 'df5gf5-gh6t7-ph4j7h-fgf6n1';
const USER: UserKeys = {
  email_sha256: hashEmail('test@example.com ')!,
  phone_sha256: hashPhone('+1 555 010 9999')!,
  li_fat_id: LI_FAT_ID,
  ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0',
};

function dest(over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({
    id: 'li',
    type: 'linkedin',
    events: ['Purchase', 'Lead'],
    click_window_ms: 30 * 86_400_000,
    view_window_ms: 7 * 86_400_000,
    batch: { size: 5000, max_wait_ms: 0 },
    settings,
    ...over,
  });
}

function item(user: UserKeys = USER, over: Partial<TrackedEvent> = {}, n = 1): DeliveryItem {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: `ord-${n}`,
    event_time: NOW_S - 3600,
    source: 'server',
    user,
    properties: { value: 1500, currency: 'USD' },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
  const conversion: ConversionRecord = {
    conversion_id: `cv-${n}`,
    dest_id: 'li',
    env_id: 'env_t',
    event_pk: `pk-${n}`,
    event_name: event.event_name,
    event_id: event.event_id,
    event_time: event.event_time,
    value: typeof event.properties.value === 'number' ? event.properties.value : null,
    currency: event.properties.currency ?? null,
    attribution: null,
    reason: null,
    created_at_ms: NOW,
  };
  return { outbox_id: n, conversion, event };
}

const ctx = (d = dest()) => ({ dest: d, settings: d.settings as typeof settings, nowMs: NOW });
const build = (items: DeliveryItem[], d = dest()) => li.buildRequest(items, ctx(d));
const body = (items: DeliveryItem[], d = dest()) => JSON.parse(build(items, d).body!);
const refuse = (i: DeliveryItem, d = dest()) => li.refuse!(i, ctx(d));
const response = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json).slice(0, 500),
});
const batch = (n: number) => Array.from({ length: n }, (_, i) => item(USER, {}, i + 1));

describe('linkedin request', () => {
  it('LI-R01 posts a BATCH_CREATE to /rest/conversionEvents with the versioned headers', () => {
    const req = build([item()]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/rest/conversionEvents');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer AQV-linkedin-token',
      'linkedin-version': LINKEDIN_DEFAULT_VERSION,
      'x-restli-protocol-version': '2.0.0',
      'x-restli-method': 'BATCH_CREATE',
      'content-type': 'application/json',
    });
    expect(build([item()], dest({ base_url: null })).url).toBe(
      'https://api.linkedin.com/rest/conversionEvents',
    );
    const d = dest({ settings: { ...settings, api_version: '202610' } });
    expect(build([item()], d).headers['linkedin-version']).toBe('202610');
  });

  it('LI-R02 each element has the documented fields: URN, ms time, value as string, ids', () => {
    expect(body([item()])).toEqual({
      elements: [
        {
          conversion: URN,
          conversionHappenedAt: (NOW_S - 3600) * 1000,
          conversionValue: { currencyCode: 'USD', amount: '1500' },
          user: {
            userIds: [
              { idType: 'SHA256_EMAIL', idValue: EMAIL_SHA },
              { idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: LI_FAT_ID },
            ],
          },
          eventId: 'ord-1',
        },
      ],
    });
  });

  it('LI-R03 SHA256_EMAIL is the hash of the trimmed, lower-cased email (published vector)', () => {
    expect(hashEmail('test@example.com ')).toBe(EMAIL_SHA);
    const raw = build([item()]).body!;
    expect(raw).not.toMatch(/example\.com|203\.0\.113\.9|Mozilla/);
  });

  it('LI-R04 no conversionValue without a value and a currency', () => {
    const el = body([item(USER, { event_name: 'Lead', properties: {} })]).elements[0];
    expect(el.conversionValue).toBeUndefined();
    expect(el.user.userIds).toHaveLength(2);
  });

  it('LI-R05 event_map may send an event to another conversion rule by its URN', () => {
    const other = 'urn:lla:llaPartnerConversion:456';
    const d = dest({ event_map: { Lead: other, Purchase: 'Purchase' } });
    const [purchase, lead] = body([item(), item(USER, { event_name: 'Lead' }, 2)], d).elements;
    expect(lead.conversion).toBe(other);
    // A mapping that is not a conversion URN is not LinkedIn's to read: the configured rule.
    expect(purchase.conversion).toBe(URN);
  });

  it('LI-R06 a batch carries up to 5,000 events, in order', () => {
    expect(li.maxBatch).toBe(LINKEDIN_MAX_EVENTS);
    expect(LINKEDIN_MAX_EVENTS).toBe(5000);
    const els = body(batch(5000)).elements;
    expect(els).toHaveLength(5000);
    expect(els[4999].eventId).toBe('ord-5000');
  });

  it('LI-R07 the settings schema: a conversion URN and a secret access_token', () => {
    expect(Value.Check(li.settingsSchema, settings)).toBe(true);
    expect(Value.Check(li.settingsSchema, { ...settings, conversion_urn: '104012' })).toBe(false);
    expect(Value.Check(li.settingsSchema, { ...settings, api_version: '2026-03' })).toBe(false);
    const props = (li.settingsSchema as unknown as { properties: Record<string, object> })
      .properties;
    expect(props.access_token).toMatchObject({ secret: true });
  });
});

describe('linkedin refuse', () => {
  it('LI-F01 an event with no user id is refused with the reason', () => {
    const anonymous = item({ ip: '203.0.113.9', user_agent: 'UA', phone_sha256: 'ab'.repeat(32) });
    expect(refuse(anonymous)).toBe(
      'no user id LinkedIn accepts: needs a hashed email or the li_fat_id click cookie',
    );
    expect(refuse(item({ li_fat_id: LI_FAT_ID }))).toBeNull();
    expect(refuse(item({ email_sha256: EMAIL_SHA }))).toBeNull();
  });

  it('LI-F02 an event older than 90 days is refused as too old', () => {
    const old = item(USER, { event_time: NOW_S - LINKEDIN_MAX_EVENT_AGE_S - 1 });
    expect(refuse(old)).toMatch(/^event too old/);
    expect(refuse(item(USER, { event_time: NOW_S - LINKEDIN_MAX_EVENT_AGE_S }))).toBeNull();
  });

  it('LI-F03 test mode sends nothing: LinkedIn has no test channel', () => {
    expect(refuse(item(), dest({ test_mode: true }))).toMatch(/no test channel/);
  });

  it('LI-F04 ads consent denied is refused', () => {
    expect(refuse(item(USER, { consent: { ads: false, analytics: true } }))).toBe(
      'ads consent denied',
    );
  });
});

describe('linkedin interpret', () => {
  const two = batch(2);

  it('LI01 200 with every element 201 is delivered', () => {
    const r = interpretLinkedin(
      response(200, { elements: [{ status: 201 }, { status: 201 }] }),
      two,
      NOW,
    );
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
    expect(r.detail).toBe('2 of 2 conversion(s) created');
  });

  it('LI02 a failed element in a batch answer gets its own status class', () => {
    const r = interpretLinkedin(
      response(200, {
        elements: [
          { status: 201 },
          { status: 400, error: { status: 400, message: 'Invalid conversionHappenedAt' } },
        ],
      }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toEqual({ action: 'done' });
    expect(r.verdicts[1]).toMatchObject({
      action: 'drop',
      reason: 'element 1: HTTP 400: Invalid conversionHappenedAt',
    });
  });

  it('LI03 422 drops the elements its message names; the others are retried', () => {
    const r = interpretLinkedin(
      response(422, {
        status: 422,
        message:
          'Index: 1, ERROR :: /conversionHappenedAt :: conversionHappenedAt must be within the last 90 days\n',
      }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'retry' });
    expect(r.verdicts[1]).toEqual({
      action: 'drop',
      reason:
        'LinkedIn refused the event: /conversionHappenedAt :: conversionHappenedAt must be within the last 90 days',
    });
    expect(r.detail).toMatch(/^HTTP 422: 1 of 2 refused; elements\[1\]/);
  });

  it('LI04 a 422 naming no element drops the batch', () => {
    const r = interpretLinkedin(
      response(422, { status: 422, message: 'Unprocessable entity' }),
      two,
      NOW,
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'drop']);
  });

  it('LI05 401 REVOKED_ACCESS_TOKEN pauses the destination', () => {
    const r = interpretLinkedin(
      response(401, {
        status: 401,
        serviceErrorCode: 65601,
        code: 'REVOKED_ACCESS_TOKEN',
        message: 'The token used in the request has been revoked by the user',
      }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toBe(
      'HTTP 401 (REVOKED_ACCESS_TOKEN, serviceErrorCode 65601): The token used in the request has been revoked by the user; destination paused',
    );
  });

  it('LI06 403 ACCESS_DENIED pauses the destination', () => {
    const r = interpretLinkedin(
      response(403, {
        status: 403,
        serviceErrorCode: 100,
        code: 'ACCESS_DENIED',
        message: 'Not enough permissions to access: conversionEvents.BATCH_CREATE.20260301',
      }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/^HTTP 403 \(ACCESS_DENIED/);
  });

  it('LI07 426 (version sunset) pauses until api_version is raised', () => {
    const r = interpretLinkedin(
      response(426, {
        status: 426,
        code: 'NONEXISTENT_VERSION',
        message: 'Requested version 20240101 is not active',
      }),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/raise api_version/);
  });

  it('LI08 429 retries after Retry-After', () => {
    const r = interpretLinkedin(
      response(429, { status: 429, message: 'Resource level throttle limit reached' }, '30'),
      two,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(r.detail).toMatch(/^rate limited, retry after 30 s: HTTP 429/);
  });

  it('LI09 400 drops; 500 and 503 retry', () => {
    const bad = response(400, { status: 400, message: 'Invalid param' });
    expect(interpretLinkedin(bad, two, NOW).verdicts[0]).toEqual({
      action: 'drop',
      reason: 'HTTP 400: Invalid param',
    });
    for (const s of [500, 503])
      expect(interpretLinkedin(response(s, { status: s }), two, NOW).verdicts[0].action).toBe(
        'retry',
      );
  });

  it('LI10 a network error retries', () => {
    const r = interpretLinkedin({ kind: 'network', error: 'ECONNREFUSED' }, two, NOW);
    expect(r.verdicts[0].action).toBe('retry');
  });

  it('LI11 element statuses are read from a batch answer cut short', () => {
    const failed = { status: 400, error: { status: 400, message: `Invalid ${'x'.repeat(80)}` } };
    const json = { elements: [failed, ...Array.from({ length: 30 }, () => ({ status: 201 }))] };
    const r = interpretLinkedin(response(200, json), batch(31), NOW);
    expect(JSON.stringify(json).length).toBeGreaterThan(500);
    expect(r.verdicts[0].action).toBe('drop');
    expect(r.verdicts.slice(1).every((v) => v.action === 'done')).toBe(true);
  });

  it('LI12 error bodies cut short are still read', () => {
    const cut = `{"status":422,"message":"Index: 0, ERROR :: bad\\nIndex: 3, ERROR :: ${'x'.repeat(600)}`;
    const e = readLinkedinError(cut.slice(0, 500));
    expect(e?.status).toBe(422);
    expect([...rowsNamed(e!.message).keys()]).toEqual([0, 3]);
  });

  describe('userInfo', () => {
    it('L30 first and last name and the country code go in clear from the outbox row', () => {
      const clear = { first_name: ' Mike ', last_name: 'Smith', country: 'us', zip: '94035' };
      const el = body([item(USER, { clear_user: clear })]).elements[0];
      expect(el.user.userInfo).toEqual({ firstName: 'Mike', lastName: 'Smith', countryCode: 'US' });
      expect(JSON.stringify(el)).not.toContain('94035');
    });

    it('L31 without both names there is no userInfo (LinkedIn requires both)', () => {
      const el = body([item(USER, { clear_user: { first_name: 'Mike', country: 'US' } })])
        .elements[0];
      expect(el.user.userInfo).toBeUndefined();
      expect(body([item(USER)]).elements[0].user.userInfo).toBeUndefined();
    });

    it('L32 the adapter asks for names and country only', () => {
      expect([...(li.clearUser ?? [])].sort()).toEqual(['country', 'first_name', 'last_name']);
    });
  });
});
