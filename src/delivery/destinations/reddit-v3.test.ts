import { describe, expect, it } from 'vitest';
import {
  type ItemOptions,
  NOW,
  NOW_S,
  redditAnswer,
  redditContext,
  redditItem,
  TEST_EMAIL_SHA,
  TOKEN,
  UA,
  webUser,
} from '../../../test/fixtures/reddit.js';
import { parseDestinationConfig, secretFields } from '../../config/config-parse.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import { REDDIT_MAX_EVENTS, redditDestination as reddit, redditApiVersion } from './reddit.js';

/** Reddit's own example: external_id "customer12345" and its SHA-256. */
const CUSTOMER12345_SHA = 'a4cc2fc5adf58a029291c1514d273989113a1d05e1d753c1d0c3a848af7109cc';
/** Reddit's MAID examples (IDFA upper case, AAID lower case), as we store them: lower case. */
const IDFA = '8A2E4F6D-0852-4B2A-B9D5-79334DE14B16';
const AAID = '38400000-8cf0-11bd-b23e-10b96e40000d';
type Settings = Parameters<typeof reddit.buildRequest>[1]['settings'];

const ctx = (
  settings: Settings = { pixel_id: 'a2_pixel', access_token: TOKEN },
  over: Partial<DestinationConfig> = {},
): DeliveryContext<Settings> => redditContext(settings, over);
const item = (over: ItemOptions = {}): DeliveryItem =>
  redditItem(over, {
    value: 100.5,
    currency: 'USD',
    content_ids: ['sku1', 'sku2'],
    url: 'https://shop.example/thanks?rdt_cid=3184742045291813272',
  });

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(reddit.buildRequest(items, c).body ?? '{}');
const event = (i: DeliveryItem, c = ctx()) => body([i], c).data.events[0];
const answer = redditAnswer;
const settingErrors = (raw: Record<string, unknown>) =>
  parseDestinationConfig({ id: 'rd', type: 'reddit', access_token: TOKEN, ...raw }).errors;

describe('reddit v3 request', () => {
  it('RV01 a pixel_id destination posts data.events[] to /api/v3/pixels/{pixel_id}/conversion_events', () => {
    const req = reddit.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/api/v3/pixels/a2_pixel/conversion_events');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^pixeltrail-reddit\//);
    expect(JSON.parse(req.body ?? '')).toEqual({
      data: {
        events: [
          {
            event_at: (NOW_S - 600) * 1000,
            action_source: 'WEBSITE',
            event_source_url: 'https://shop.example/thanks?rdt_cid=3184742045291813272',
            click_id: '3184742045291813272',
            type: { tracking_type: 'PURCHASE' },
            metadata: {
              conversion_id: 'ord-1',
              value: 100.5,
              currency: 'USD',
              item_count: 2,
              products: [{ id: 'sku1' }, { id: 'sku2' }],
            },
            user: {
              email: TEST_EMAIL_SHA,
              external_id: CUSTOMER12345_SHA,
              ip_address: sha256Hex('192.168.0.1'),
              user_agent: UA,
              phone_number: sha256Hex('+15554441234'),
            },
          },
        ],
      },
    });
    expect(reddit.buildRequest([item()], ctx(undefined, { base_url: null })).url).toBe(
      'https://ads-api.reddit.com/api/v3/pixels/a2_pixel/conversion_events',
    );
  });

  it('RV02 event_at is epoch milliseconds, an integer even for fractional seconds', () => {
    expect(event(item({ time: NOW_S - 0.2504 })).event_at).toBe(NOW - 250);
    expect(Number.isInteger(event(item()).event_at)).toBe(true);
  });

  it("RV03 email, user id and IP are SHA-256 (Reddit's customer12345 vector); the phone is the hash of + and its E.164 digits", () => {
    const u = event(item()).user;
    expect(u.external_id).toBe(CUSTOMER12345_SHA);
    expect(u.email).toBe(TEST_EMAIL_SHA);
    expect(u.ip_address).toBe(sha256Hex('192.168.0.1'));
    expect(u.phone_number).toBe(sha256Hex('+15554441234'));
    // Known only from a phone given in clear: Meta's hash (no +) is not sent in its place.
    const hashedOnly = { ...webUser, phone_e164_sha256: undefined };
    expect(event(item({ user: hashedOnly })).user).not.toHaveProperty('phone_number');
    expect(JSON.stringify(u)).not.toContain('192.168.0.1');
  });

  it('RV04 advertising ids go as idfa (hashed upper case) and aaid (hashed lower case)', () => {
    const app = { idfa: IDFA.toLowerCase(), gaid: AAID };
    const u = event(item({ user: app })).user;
    expect(u).toEqual({ idfa: sha256Hex(IDFA), aaid: sha256Hex(AAID) });
  });

  it('RV05 standard names map to UPPER_SNAKE tracking types; others go as CUSTOM with their name', () => {
    const c = ctx(undefined, {
      event_map: { Contact: 'Lead', Quote: 'ADD_TO_CART', Odd: 'CUSTOM' },
    });
    const long = 'x'.repeat(70);
    const types = body(
      ['PageView', 'ViewContent', 'Search', 'AddToWishlist', 'CompleteRegistration']
        .concat(['Contact', 'Quote', 'QuoteRequested', long, 'Odd'])
        .map((name, i) => item({ name, id: `e${i}`, props: {} })),
      c,
    ).data.events.map((e: { type: unknown }) => e.type);
    expect(types).toEqual([
      { tracking_type: 'PAGE_VISIT' },
      { tracking_type: 'VIEW_CONTENT' },
      { tracking_type: 'SEARCH' },
      { tracking_type: 'ADD_TO_WISHLIST' },
      { tracking_type: 'SIGN_UP' },
      { tracking_type: 'LEAD' },
      { tracking_type: 'ADD_TO_CART' },
      { tracking_type: 'CUSTOM', custom_event_name: 'QuoteRequested' },
      { tracking_type: 'CUSTOM', custom_event_name: 'x'.repeat(64) },
      { tracking_type: 'CUSTOM', custom_event_name: 'CUSTOM' },
    ]);
  });

  it('RV06 value and currency go as a pair on value types only; item_count on count types only', () => {
    const view = event(item({ name: 'ViewContent' })).metadata;
    expect(view).toEqual({ conversion_id: 'ord-1', products: [{ id: 'sku1' }, { id: 'sku2' }] });
    const lead = event(item({ name: 'Lead', props: { value: 20, currency: 'EUR' } })).metadata;
    expect(lead).toEqual({ conversion_id: 'ord-1', value: 20, currency: 'EUR' });
    const custom = event(
      item({ name: 'Quote', props: { value: 5, currency: 'EUR', num_items: 3 } }),
    );
    expect(custom.metadata).toEqual({
      conversion_id: 'ord-1',
      value: 5,
      currency: 'EUR',
      item_count: 3,
    });
    const noCurrency = event(item({ props: { value: 20, content_ids: ['a'] } })).metadata;
    expect(noCurrency).toEqual({ conversion_id: 'ord-1', item_count: 1, products: [{ id: 'a' }] });
    expect(event(item({ props: { currency: 'EUR' } })).metadata).toEqual({
      conversion_id: 'ord-1',
    });
  });

  it('RV07 action_source comes from the settings; event_source_url only for WEBSITE events', () => {
    const app = event(
      item(),
      ctx({ pixel_id: 'a2_pixel', access_token: TOKEN, action_source: 'APP' }),
    );
    expect(app.action_source).toBe('APP');
    expect(app).not.toHaveProperty('event_source_url');
    expect(app.click_id).toBe('3184742045291813272');
    const noUrl = event(item({ props: { url: 'shop.example/x' } }));
    expect(noUrl).not.toHaveProperty('event_source_url');
  });

  it('RV08 PHYSICAL_STORE events carry only email, phone and user id: no click id, IP, user agent or MAIDs', () => {
    const store: Settings = {
      pixel_id: 'a2_pixel',
      access_token: TOKEN,
      action_source: 'PHYSICAL_STORE',
    };
    const e = event(item({ user: { ...webUser, idfa: IDFA } }), ctx(store));
    expect(e.action_source).toBe('PHYSICAL_STORE');
    expect(e).not.toHaveProperty('click_id');
    expect(e).not.toHaveProperty('event_source_url');
    expect(e.user).toEqual({
      email: TEST_EMAIL_SHA,
      phone_number: sha256Hex('+15554441234'),
      external_id: CUSTOMER12345_SHA,
    });
  });

  it('RV09 up to 1,000 events go in one request, in order', () => {
    expect(reddit.maxBatch).toBe(1000);
    const items = Array.from({ length: REDDIT_MAX_EVENTS }, (_, i) => item({ id: `o${i}` }));
    const events = body(items).data.events;
    expect(events).toHaveLength(1000);
    expect(events[999].metadata.conversion_id).toBe('o999');
    const c = ctx();
    expect(reddit.maxBatchFor?.(c.dest, c.settings)).toBe(1000);
  });
});

describe('reddit v3 test mode', () => {
  const testing: Settings = { pixel_id: 'a2_pixel', access_token: TOKEN, test_id: 't2_testid' };

  it('RV10 test_mode sends data.test_id, one event a request (Event Testing shows no batches)', () => {
    const c = ctx(testing, { test_mode: true });
    expect(body([item()], c).data.test_id).toBe('t2_testid');
    expect(body([item()], c)).not.toHaveProperty('test_mode');
    expect(reddit.maxBatchFor?.(c.dest, c.settings)).toBe(1);
  });

  it('RV11 without test_mode a configured test_id is not sent: production events stay production', () => {
    const c = ctx(testing);
    expect(body([item()], c).data).not.toHaveProperty('test_id');
    expect(reddit.maxBatchFor?.(c.dest, c.settings)).toBe(1000);
  });

  it('RV12 test_mode without test_id is refused with the reason', () => {
    const c = ctx(undefined, { test_mode: true });
    expect(reddit.refuse?.(item(), c)).toBe(
      'test_mode needs test_id (Events Manager → Event Testing)',
    );
  });
});

describe('reddit api version', () => {
  it('RV20 a destination with account_id and no pixel_id stays on v2.0, unchanged', () => {
    const v2 = ctx({ account_id: 'a2_abc123', access_token: TOKEN });
    expect(redditApiVersion(v2.settings)).toBe('v2');
    const req = reddit.buildRequest([item()], v2);
    expect(req.url).toBe('http://127.0.0.1:9/api/v2.0/conversions/events/a2_abc123');
    expect(JSON.parse(req.body ?? '')).toMatchObject({ test_mode: false, events: [{}] });
    expect(reddit.maxBatchFor?.(v2.dest, v2.settings)).toBe(1000);
  });

  it('RV21 api_version chooses explicitly; pixel_id alone, or nothing, means v3', () => {
    expect(redditApiVersion({ api_version: 'v2', account_id: 'a2_x', access_token: 't' })).toBe(
      'v2',
    );
    expect(redditApiVersion({ api_version: 'v3', pixel_id: 'a2_x', access_token: 't' })).toBe('v3');
    expect(redditApiVersion({ pixel_id: 'a2_x', access_token: 't' })).toBe('v3');
    expect(redditApiVersion({ pixel_id: 'a2_x', account_id: 'a2_x', access_token: 't' })).toBe(
      'v3',
    );
    expect(redditApiVersion({ access_token: 't' })).toBe('v3');
  });

  it('RV22 the config parser names each field a version lacks or does not read', () => {
    expect(settingErrors({ pixel_id: 'a2_x' })).toEqual([]);
    expect(settingErrors({ account_id: 'a2_x' })).toEqual([]);
    expect(settingErrors({ api_version: 'v2', account_id: 'a2_x' })).toEqual([]);
    expect(settingErrors({})).toEqual([
      {
        field: 'pixel_id',
        message: 'is required (Conversions API v3 posts to /api/v3/pixels/{pixel_id})',
      },
    ]);
    expect(settingErrors({ api_version: 'v2' })).toEqual([
      { field: 'account_id', message: 'is required with api_version v2' },
    ]);
    expect(
      settingErrors({ api_version: 'v2', account_id: 'a2_x', test_id: 't', pixel_id: 'p' }),
    ).toEqual([
      { field: 'pixel_id', message: 'is a v3 field; api_version v2 does not read it' },
      { field: 'test_id', message: 'is a v3 field; api_version v2 does not read it' },
    ]);
    expect(settingErrors({ api_version: 'v3', account_id: 'a2_x', pixel_id: 'p' })).toEqual([
      {
        field: 'account_id',
        message: 'is a v2.0 field; v3 takes pixel_id (or set api_version: v2)',
      },
    ]);
    expect(settingErrors({ pixel_id: 'p', api_version: 'v4' }).map((e) => e.field)).toContain(
      'api_version',
    );
    expect(settingErrors({ pixel_id: 'p', action_source: 'web' }).map((e) => e.field)).toContain(
      'action_source',
    );
  });

  it('RV23 the access token is the only secret; api_version and action_source are choices', () => {
    expect(secretFields(reddit.settingsSchema)).toEqual(['access_token']);
    type Choice = { anyOf?: Array<{ const?: unknown }> };
    const { properties } = reddit.settingsSchema as unknown as {
      properties: Record<string, Choice>;
    };
    const choices = (k: string) => properties[k].anyOf?.map((x) => x.const);
    expect(choices('api_version')).toEqual(['v3', 'v2']);
    expect(choices('action_source')).toEqual(['WEBSITE', 'APP', 'PHYSICAL_STORE', 'OTHER']);
  });
});

describe('reddit v3 refuse', () => {
  it('RV31 too old or no match key is refused; a click id, an advertising id or IP + UA is enough', () => {
    expect(reddit.refuse?.(item({ time: NOW_S - 168 * 3600 - 1 }), ctx())).toMatch(
      /^event too old/,
    );
    expect(reddit.refuse?.(item({ user: { anonymous_id: 'p', ip: '192.0.2.1' } }), ctx())).toBe(
      'no match key Reddit accepts (rdt_cid, email, phone, user id, advertising id, or IP + user agent)',
    );
    expect(reddit.refuse?.(item({ user: { rdt_cid: 'x' } }), ctx())).toBeNull();
    expect(reddit.refuse?.(item({ user: { gaid: AAID } }), ctx())).toBeNull();
    expect(reddit.refuse?.(item({ user: { ip: '192.0.2.1', user_agent: UA } }), ctx())).toBeNull();
  });

  it('RV32 an offline (PHYSICAL_STORE) conversion needs an email, a phone or a user id', () => {
    const store = ctx({
      pixel_id: 'a2_pixel',
      access_token: TOKEN,
      action_source: 'PHYSICAL_STORE',
    });
    expect(reddit.refuse?.(item({ user: { rdt_cid: 'x', idfa: IDFA } }), store)).toMatch(
      /^no match key/,
    );
    expect(reddit.refuse?.(item({ user: { user_id: 'c1' } }), store)).toBeNull();
    const phone = { phone_e164_sha256: sha256Hex('+15554441234') };
    expect(reddit.refuse?.(item({ user: phone }), store)).toBeNull();
  });
});

describe('reddit v3 interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' }), item({ id: 'c' })];
  const read = (r: HttpResult) => reddit.interpret!(r, items, NOW);
  const actions = (r: HttpResult) => read(r).verdicts.map((v) => v.action);

  it('RV40 a 200 {data:{message}} delivers every item and logs the message', () => {
    const r = read(
      answer(200, { data: { message: 'Successfully processed 3 conversion events.' } }),
    );
    expect(r.verdicts.every((v) => v.action === 'done')).toBe(true);
    expect(r.detail).toBe('Successfully processed 3 conversion events.');
  });

  it('RV41 a 400 {error:{code,message}} drops the batch to dead-letter with its message', () => {
    const r = read(answer(400, { error: { code: 400, message: 'missing action_source' } }));
    expect(r.verdicts).toEqual(
      items.map(() => ({
        action: 'drop',
        reason: 'events refused by Reddit: missing action_source',
      })),
    );
    expect(actions(answer(400, 'Bad Request'))).toEqual(['drop', 'drop', 'drop']);
  });

  it('RV42 a 400 naming invalid v3 events (metadata.conversion_id) drops those, retries the rest', () => {
    const r = read(
      answer(400, {
        message: 'There were 1 invalid conversion events. None were processed.',
        invalid_events: [
          {
            error_message: 'event_at timestamp must be less than 168h0m0s old',
            event: { type: { tracking_type: 'PURCHASE' }, metadata: { conversion_id: 'c' } },
          },
        ],
      }),
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['retry', 'retry', 'drop']);
    expect(r.verdicts[0]).toMatchObject({ retryAfterMs: 0 });
    const wrapped = answer(400, {
      data: {
        message: 'There were 1 invalid conversion events.',
        invalid_events: [{ event_index: 0 }],
      },
    });
    expect(actions(wrapped)).toEqual(['drop', 'retry', 'retry']);
  });

  it('RV43 401 and 403 (token, pixel permission, adsconversions scope) pause the destination', () => {
    expect(actions(answer(401, 'No bearer token provided'))[0]).toBe('pause');
    expect(actions(answer(401, { error: { code: 401, message: 'UNAUTHORIZED' } }))[0]).toBe(
      'pause',
    );
    const denied = read(
      answer(403, "You're not authorized to post conversions to Pixel ID a2_pixel."),
    );
    expect(denied.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(
      actions(answer(403, 'Missing adsconversions scope to post conversions to Pixel.')),
    ).toEqual(['pause', 'pause', 'pause']);
  });

  it('RV44 other 4xx (404, 413, 422) are permanent: dropped, not retried', () => {
    for (const s of [404, 413, 422])
      expect(actions(answer(s, { error: { code: s } }))).toEqual(['drop', 'drop', 'drop']);
  });

  it('RV45 429 retries after Retry-After; 500, 503, 408 and network errors retry', () => {
    const limited = read(answer(429, 'Your user agent was automatically ratelimited.', '12'));
    expect(limited.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 12_000 });
    expect(limited.verdicts[0]).toHaveProperty(
      'reason',
      'rate limited, retry after 12 s: Your user agent was automatically ratelimited.',
    );
    for (const s of [500, 503, 408])
      expect(actions(answer(s, 'The service is currently unavailable.'))).toEqual([
        'retry',
        'retry',
        'retry',
      ]);
    expect(read({ kind: 'network', error: 'ECONNRESET' }).verdicts[0].action).toBe('retry');
  });
});
