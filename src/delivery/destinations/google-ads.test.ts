import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent, UserKeys } from '../../domain/event.js';
import { hashEmail, sha256Hex } from '../../domain/identity.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  googleAdsDestination as ads,
  conversionDateTime,
  interpretGoogleAds,
  MAX_CONVERSIONS_PER_REQUEST,
} from './google-ads.js';
import { readGoogleStatus } from './google-ads-failure.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';

const settings = {
  customer_id: '123-456-7890',
  conversion_action: '555',
  developer_token: 'dev-tok',
  access_token: 'ya29.token',
};

function dest(over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({
    id: 'gads',
    type: 'google_ads',
    batch: { size: 2000, max_wait_ms: 0 },
    settings,
    ...over,
  });
}

function item(user: UserKeys = { gclid: 'Cj0KCQ-gclid' }, over: Partial<TrackedEvent> = {}, n = 1) {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: `ord-${n}`,
    event_time: NOW_S - 3600,
    source: 'server',
    user,
    properties: { value: 49.9, currency: 'EUR' },
    consent: { ads: null, analytics: null },
    warnings: [],
    ...over,
  };
  const conversion: ConversionRecord = {
    conversion_id: `cv-${n}`,
    dest_id: 'gads',
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
  return { outbox_id: n, conversion, event } satisfies DeliveryItem;
}

const ctx = (d = dest()) => ({ dest: d, settings: d.settings as typeof settings, nowMs: NOW });
const build = (items: DeliveryItem[], d = dest()) => ads.buildRequest(items, ctx(d));
const body = (items: DeliveryItem[], d = dest()) => JSON.parse(build(items, d).body!);
const response = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  // The REST API pretty-prints its JSON; the worker hands over at most 500 characters.
  bodyExcerpt: JSON.stringify(json, null, 2).slice(0, 500),
});

/** A GoogleAdsFailure, as REST errors and partialFailureError carry it. */
function adsFailure(errors: unknown[]) {
  return {
    '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure',
    errors,
    requestId: 'Zt7x0bWq8yS3mK9a1PlQvA',
  };
}
function rowError(index: number, code: string, message: string) {
  return {
    errorCode: { conversionUploadError: code },
    message,
    location: {
      fieldPathElements: [{ fieldName: 'conversions', index }, { fieldName: 'gclid' }],
    },
  };
}
function rpcError(
  code: number,
  status: string,
  errorCode: object,
  message: string,
  extra = {},
  top = 'Request contains an invalid argument.',
) {
  return {
    error: {
      code,
      message: top,
      status,
      details: [adsFailure([{ errorCode, message, ...extra }])],
    },
  };
}

describe('google_ads request', () => {
  it('A01 POSTs uploadClickConversions with the bearer token and developer-token', () => {
    const req = build([item()]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/v26/customers/1234567890:uploadClickConversions');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer ya29.token',
      'developer-token': 'dev-tok',
      'content-type': 'application/json',
    });
    expect(req.headers['login-customer-id']).toBeUndefined();
    expect(JSON.parse(req.body!)).toEqual({
      conversions: [
        {
          conversionAction: 'customers/1234567890/conversionActions/555',
          conversionDateTime: '2025-11-23 11:13:20+00:00',
          conversionValue: 49.9,
          currencyCode: 'EUR',
          orderId: 'ord-1',
          gclid: 'Cj0KCQ-gclid',
        },
      ],
      partialFailure: true,
      validateOnly: false,
    });
  });

  it('A02 takes a conversion action resource name, a manager id and an API version', () => {
    const d = dest({
      settings: {
        ...settings,
        conversion_action: 'customers/999/conversionActions/777',
        login_customer_id: '111-222-3333',
        api_version: 'v25',
      },
    });
    const req = build([item()], d);
    expect(req.url).toContain('/v25/customers/1234567890:uploadClickConversions');
    expect(req.headers['login-customer-id']).toBe('1112223333');
    expect(JSON.parse(req.body!).conversions[0].conversionAction).toBe(
      'customers/999/conversionActions/777',
    );
  });

  it('A03 conversionDateTime is yyyy-mm-dd hh:mm:ss+hh:mm', () => {
    expect(conversionDateTime(NOW_S)).toBe('2025-11-23 12:13:20+00:00');
    expect(conversionDateTime(0)).toBe('1970-01-01 00:00:00+00:00');
  });

  it('A04 exactly one click id: gclid, else wbraid, else gbraid', () => {
    const both = body([item({ gclid: 'G', wbraid: 'W', gbraid: 'B' })]).conversions[0];
    expect(both).toMatchObject({ gclid: 'G' });
    expect(both.wbraid ?? both.gbraid).toBeUndefined();
    const braids = body([item({ wbraid: 'W', gbraid: 'B' })]).conversions[0];
    expect(braids).toMatchObject({ wbraid: 'W' });
    expect(braids.gbraid).toBeUndefined();
    expect(body([item({ gbraid: 'B' })]).conversions[0]).toMatchObject({ gbraid: 'B' });
  });

  it('A05 a click touch credited to this destination supplies the gclid', () => {
    const i = item({ ip: '203.0.113.9' });
    i.conversion.attribution = {
      type: 'click',
      imp_id: null,
      click_id: 'Cj0-from-click',
      campaign_id: 'c1',
      creative_id: null,
      placement_id: null,
      touch_time: NOW_S - 7200,
      match_key: 'cookie',
      match_type: 'deterministic',
      window: '7d',
      model: 'last_touch',
    };
    expect(body([i]).conversions[0]).toMatchObject({ gclid: 'Cj0-from-click' });
  });

  it('A06 enhanced conversions send the hashed email (known vector), never the phone', () => {
    expect(hashEmail(' Test@Example.com ')).toBe(EMAIL_SHA);
    const u = { email_sha256: EMAIL_SHA, phone_sha256: 'a'.repeat(64) };
    const alone = body([item(u)]).conversions[0];
    expect(alone.userIdentifiers).toEqual([{ hashedEmail: EMAIL_SHA }]);
    expect(alone.gclid).toBeUndefined();
    expect(body([item({ ...u, gclid: 'G' })]).conversions[0]).toMatchObject({
      gclid: 'G',
      userIdentifiers: [{ hashedEmail: EMAIL_SHA }],
    });
    expect(body([item({ ...u, wbraid: 'W' })]).conversions[0].userIdentifiers).toBeUndefined();
    expect(JSON.stringify(body([item(u)]))).not.toContain('a'.repeat(64));
  });

  it('A07 ads consent granted is passed on as adUserData', () => {
    const granted = item(undefined, { consent: { ads: true, analytics: null } });
    expect(body([granted]).conversions[0].consent).toEqual({ adUserData: 'GRANTED' });
    expect(body([item()]).conversions[0].consent).toBeUndefined();
  });

  it('A08 test mode validates only', () => {
    expect(body([item()], dest({ test_mode: true })).validateOnly).toBe(true);
  });

  it('A09 batches up to 2000 conversions, in order', () => {
    expect(ads.maxBatch).toBe(MAX_CONVERSIONS_PER_REQUEST);
    expect(MAX_CONVERSIONS_PER_REQUEST).toBe(2000);
    const items = [1, 2, 3].map((n) => item({ gclid: `g${n}` }, {}, n));
    expect(body(items).conversions.map((c: any) => c.orderId)).toEqual(['ord-1', 'ord-2', 'ord-3']);
  });

  it('A10 settings: the contract fields, secrets marked, ids checked', () => {
    expect(Value.Check(ads.settingsSchema, settings)).toBe(true);
    expect(Value.Check(ads.settingsSchema, { ...settings, customer_id: '12345' })).toBe(false);
    expect(Value.Check(ads.settingsSchema, { ...settings, conversion_action: 'abc' })).toBe(false);
    const props = (ads.settingsSchema as any).properties;
    expect(props.access_token.secret && props.developer_token.secret).toBe(true);
  });
});

describe('google_ads refusals', () => {
  const refuse = (i: DeliveryItem) => ads.refuse!(i, ctx());
  it('A11 no click id and no hashed email is refused with the reason', () => {
    expect(refuse(item({ ip: '203.0.113.9', phone_sha256: 'a'.repeat(64) }))).toMatch(
      /no gclid, gbraid or wbraid and no hashed email/,
    );
    expect(refuse(item({ email_sha256: EMAIL_SHA }))).toBeNull();
    expect(refuse(item({ gbraid: 'B' }))).toBeNull();
  });
  it('A12 conversions older than the 90-day upload window are refused', () => {
    expect(refuse(item(undefined, { event_time: NOW_S - 91 * 86_400 }))).toMatch(/90-day/);
    expect(refuse(item(undefined, { event_time: NOW_S - 89 * 86_400 }))).toBeNull();
  });
});

describe('google_ads answers', () => {
  const three = [1, 2, 3].map((n) => item({ gclid: `g${n}` }, {}, n));
  const partial = (errors: ReturnType<typeof rowError>[]) => ({
    partialFailureError: {
      code: 3,
      message: errors
        .map((e) => `${e.message}, at conversions[${e.location.fieldPathElements[0].index}].gclid`)
        .join('\n'),
      details: [adsFailure(errors)],
    },
    results: [{ gclid: 'g1' }, {}, { gclid: 'g3' }],
    jobId: '8471212',
  });

  it('A13 200 without partialFailureError: every row is done', () => {
    const r = interpretGoogleAds(response(200, { results: [{}, {}, {}], jobId: '1' }), three, NOW);
    expect(r.verdicts.map((v) => v.action)).toEqual(['done', 'done', 'done']);
    expect(r.detail).toBe('3 conversion(s) uploaded');
  });

  it('A14 partialFailureError drops the rows it names by index, the others are done', () => {
    const json = partial([rowError(1, 'EXPIRED_EVENT', 'The click is too old.')]);
    const r = interpretGoogleAds(
      { kind: 'response', status: 200, retryAfter: null, bodyExcerpt: JSON.stringify(json) },
      three,
      NOW,
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['done', 'drop', 'done']);
    expect(r.verdicts[1]).toMatchObject({ reason: /EXPIRED_EVENT: The click is too old/ });
    expect(r.detail).toMatch(/^2 of 3 conversion\(s\) accepted; conversions\[1\]/);
  });

  it('A15 a partial failure cut at 500 characters still names its rows', () => {
    const json = partial([rowError(2, 'UNPARSEABLE_GCLID', 'The gclid could not be decoded.')]);
    const res = response(200, json);
    expect(() => JSON.parse((res as any).bodyExcerpt)).toThrow();
    const r = interpretGoogleAds(res, three, NOW);
    expect(r.verdicts.map((v) => v.action)).toEqual(['done', 'done', 'drop']);
    expect(r.verdicts[2]).toMatchObject({ reason: /could not be decoded/ });
    expect(r.detail).toMatch(/cut short/);
  });

  it('A16 TOO_RECENT_EVENT is retried in 6 h; an already recorded conversion is done', () => {
    const json = partial([
      rowError(0, 'TOO_RECENT_EVENT', 'The click occurred less than 6 hours ago.'),
      rowError(1, 'CLICK_CONVERSION_ALREADY_EXISTS', 'Already exists.'),
    ]);
    const r = interpretGoogleAds(
      { kind: 'response', status: 200, retryAfter: null, bodyExcerpt: JSON.stringify(json) },
      three,
      NOW,
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 6 * 3_600_000 });
    expect(r.verdicts.slice(1).map((v) => v.action)).toEqual(['done', 'done']);
  });

  it('A17 a 200 with no results is a validateOnly answer', () => {
    expect(interpretGoogleAds(response(200, {}), three, NOW).detail).toBe(
      '3 conversion(s) validated, nothing recorded',
    );
  });

  it('A18 401 UNAUTHENTICATED pauses the destination', () => {
    const json = rpcError(
      401,
      'UNAUTHENTICATED',
      { authenticationError: 'OAUTH_TOKEN_EXPIRED' },
      'Oauth token in the header has expired.',
      {},
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login ' +
        'cookie or other valid authentication credential. See ' +
        'https://developers.google.com/identity/sign-in/web/devconsole-project.',
    );
    const r = interpretGoogleAds(response(401, json), three, NOW);
    expect(r.verdicts.map((v) => v.action)).toEqual(['pause', 'pause', 'pause']);
    expect(r.detail).toMatch(/^HTTP 401 UNAUTHENTICATED Request had invalid authentication/);
    expect(r.detail).toMatch(/paused/);
    expect(r.detail).not.toContain('ya29');
    const whole = JSON.stringify(json);
    const read = interpretGoogleAds(
      { ...(response(401, json) as any), bodyExcerpt: whole },
      three,
      NOW,
    );
    expect(read.detail).toMatch(/UNAUTHENTICATED authenticationError\.OAUTH_TOKEN_EXPIRED/);
  });

  it('A19 403 PERMISSION_DENIED (developer token not approved) pauses', () => {
    const json = rpcError(
      403,
      'PERMISSION_DENIED',
      { authorizationError: 'DEVELOPER_TOKEN_NOT_APPROVED' },
      'The developer token is only approved for use with test accounts.',
    );
    const r = interpretGoogleAds(response(403, json), three, NOW);
    expect(r.verdicts[0]).toMatchObject({
      action: 'pause',
      reason: /DEVELOPER_TOKEN_NOT_APPROVED/,
    });
  });

  it('A20 429 RESOURCE_EXHAUSTED is retried after quotaErrorDetails.retryDelay', () => {
    const json = rpcError(
      429,
      'RESOURCE_EXHAUSTED',
      { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' },
      'Too many requests. Retry in 30 seconds.',
      { details: { quotaErrorDetails: { rateScope: 'DEVELOPER', retryDelay: '30s' } } },
    );
    const full = interpretGoogleAds(
      { kind: 'response', status: 429, retryAfter: null, bodyExcerpt: JSON.stringify(json) },
      three,
      NOW,
    );
    expect(full.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(full.detail).toMatch(/retry after 30 s/);
    const noDelay = rpcError(429, 'RESOURCE_EXHAUSTED', { quotaError: 'RESOURCE_EXHAUSTED' }, 'x');
    expect(interpretGoogleAds(response(429, noDelay, '12'), three, NOW).verdicts[0]).toMatchObject({
      action: 'retry',
      retryAfterMs: 12_000,
    });
  });

  it('A21 400 INVALID_ARGUMENT drops the batch with the reason', () => {
    const json = rpcError(
      400,
      'INVALID_ARGUMENT',
      { conversionUploadError: 'TOO_MANY_CONVERSIONS_IN_REQUEST' },
      'Upload fewer than 2001 events in a single request.',
    );
    const r = interpretGoogleAds(response(400, json), three, NOW);
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'drop', 'drop']);
    expect(r.detail).toMatch(/INVALID_ARGUMENT conversionUploadError\.TOO_MANY_CONVERSIONS/);
  });

  it('A22 INTERNAL, UNAVAILABLE and network errors are retried', () => {
    const internal = rpcError(500, 'INTERNAL', { internalError: 'INTERNAL_ERROR' }, 'oops');
    expect(interpretGoogleAds(response(500, internal), three, NOW).verdicts[0].action).toBe(
      'retry',
    );
    const unavailable = {
      error: { code: 503, message: 'The service is unavailable.', status: 'UNAVAILABLE' },
    };
    expect(interpretGoogleAds(response(503, unavailable), three, NOW).verdicts[0].action).toBe(
      'retry',
    );
    const net = interpretGoogleAds({ kind: 'network', error: 'ECONNRESET' }, three, NOW);
    expect(net.verdicts[0].action).toBe('retry');
  });

  it('A23 a body that is not Google JSON falls back to the status class', () => {
    const html: HttpResult = {
      kind: 'response',
      status: 502,
      retryAfter: null,
      bodyExcerpt: '<html>',
    };
    expect(interpretGoogleAds(html, three, NOW).verdicts[0].action).toBe('retry');
    const notFound: HttpResult = {
      kind: 'response',
      status: 404,
      retryAfter: null,
      bodyExcerpt: '',
    };
    expect(interpretGoogleAds(notFound, three, NOW).verdicts[0].action).toBe('drop');
  });

  it('A24 readGoogleStatus reads a cut-short error body', () => {
    const json = rpcError(
      401,
      'UNAUTHENTICATED',
      { authenticationError: 'OAUTH_TOKEN_INVALID' },
      'Oauth token in the header is not valid.',
    );
    const s = readGoogleStatus(JSON.stringify(json, null, 2).slice(0, 420), 'error');
    expect(s).toMatchObject({ status: 'UNAUTHENTICATED', complete: false });
    expect(s?.errors[0].code).toBe('authenticationError.OAUTH_TOKEN_INVALID');
  });

  it('G99 enhanced conversions carry the phone hashed with the plus sign', () => {
    const ph = sha256Hex('+15550109999');
    const b = body([item({ gclid: 'G', email_sha256: EMAIL_SHA, phone_e164_sha256: ph })]);
    expect(b.conversions[0].userIdentifiers).toEqual([
      { hashedEmail: EMAIL_SHA },
      { hashedPhoneNumber: ph },
    ]);
  });

  it('A20 no addressInfo, whatever the event brought: click uploads take hashed email and phone only', () => {
    const clear = { first_name: 'Mary', last_name: 'Smith', zip: '94035', country: 'US' };
    const c = body([item({ email_sha256: EMAIL_SHA, gclid: 'G' }, { clear_user: clear })])
      .conversions[0];
    expect(c.userIdentifiers).toEqual([{ hashedEmail: EMAIL_SHA }]);
    expect(JSON.stringify(c)).not.toMatch(/Mary|94035|addressInfo/);
    // So no clear value is ever kept on a Google Ads outbox row.
    expect(ads.clearUser).toBeUndefined();
  });
});
