import { Value } from '@sinclair/typebox/value';
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
} from '../../../test/fixtures/reddit.js';
import { secretFields } from '../../config/config-parse.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import { sha256Hex } from '../../domain/identity.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import { REDDIT_MAX_EVENTS, redditDestination as reddit } from './reddit.js';

type Settings = { account_id: string; access_token: string };

const ctx = (over: Partial<DestinationConfig> = {}): DeliveryContext<Settings> =>
  redditContext({ account_id: 'a2_abc123', access_token: TOKEN }, over);
const item = (over: ItemOptions = {}): DeliveryItem =>
  redditItem(over, { value: 100, currency: 'USD', content_ids: ['sku1', 'sku2'] });
const answer = redditAnswer;

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(reddit.buildRequest(items, c).body ?? '{}');

describe('reddit request', () => {
  it('R01 posts events[] to /api/v2.0/conversions/events/{account_id} with a Bearer token', () => {
    const req = reddit.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/api/v2.0/conversions/events/a2_abc123');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['user-agent']).toMatch(/^pixeltrail-reddit\//);
    expect(JSON.parse(req.body ?? '')).toEqual({
      test_mode: false,
      events: [
        {
          event_at: new Date((NOW_S - 600) * 1000).toISOString(),
          event_type: { tracking_type: 'Purchase' },
          click_id: '3184742045291813272',
          event_metadata: {
            conversion_id: 'ord-1',
            value_decimal: 100,
            currency: 'USD',
            item_count: 2,
            products: [{ id: 'sku1' }, { id: 'sku2' }],
          },
          user: {
            email: TEST_EMAIL_SHA,
            external_id: sha256Hex('customer12345'),
            ip_address: sha256Hex('192.168.0.1'),
            user_agent: UA,
          },
        },
      ],
    });
  });

  it("R02 email, user id and IP are SHA-256 (Reddit's customer12345 vector); the phone is left out", () => {
    const u = body([item()]).events[0].user;
    expect(u.external_id).toBe('a4cc2fc5adf58a029291c1514d273989113a1d05e1d753c1d0c3a848af7109cc');
    expect(u.email).toBe(TEST_EMAIL_SHA);
    expect(u.ip_address).toMatch(/^[0-9a-f]{64}$/);
    expect(u).not.toHaveProperty('phone_number');
    expect(JSON.stringify(u)).not.toContain('192.168.0.1');
  });

  it('R03 standard names map to tracking types; others go as Custom with their name', () => {
    const c = ctx({ event_map: { Contact: 'Lead' } });
    const types = body(
      [
        item({ name: 'PageView', id: 'a', props: {} }),
        item({ name: 'CompleteRegistration', id: 'b', props: {} }),
        item({ name: 'Contact', id: 'c', props: {} }),
        item({ name: 'QuoteRequested', id: 'd', props: {} }),
      ],
      c,
    ).events.map((e: { event_type: unknown }) => e.event_type);
    expect(types).toEqual([
      { tracking_type: 'PageVisit' },
      { tracking_type: 'SignUp' },
      { tracking_type: 'Lead' },
      { tracking_type: 'Custom', custom_event_name: 'QuoteRequested' },
    ]);
  });

  it('R04 value and item_count go only on the event types Reddit takes them for', () => {
    const view = body([item({ name: 'ViewContent' })]).events[0].event_metadata;
    expect(view).toEqual({ conversion_id: 'ord-1', products: [{ id: 'sku1' }, { id: 'sku2' }] });
    const lead = body([item({ name: 'Lead', props: { value: 20, currency: 'EUR' } })]).events[0];
    expect(lead.event_metadata).toEqual({
      conversion_id: 'ord-1',
      value_decimal: 20,
      currency: 'EUR',
    });
  });

  it('R05 test_mode sends test_mode: true', () => {
    expect(body([item()], ctx({ test_mode: true })).test_mode).toBe(true);
    expect(reddit.buildRequest([item()], ctx({ base_url: null })).url).toBe(
      'https://ads-api.reddit.com/api/v2.0/conversions/events/a2_abc123',
    );
  });

  it('R06 one request carries up to 1,000 events', () => {
    expect(reddit.maxBatch).toBe(1000);
    const items = Array.from({ length: REDDIT_MAX_EVENTS }, (_, i) => item({ id: `o${i}` }));
    expect(body(items).events).toHaveLength(1000);
  });

  it('R07 the settings schema marks the token secret', () => {
    expect(Value.Check(reddit.settingsSchema, { account_id: 'a2_x', access_token: 't' })).toBe(
      true,
    );
    expect(Value.Check(reddit.settingsSchema, { account_id: '', access_token: 't' })).toBe(false);
    expect(secretFields(reddit.settingsSchema)).toEqual(['access_token']);
  });
});

describe('reddit refuse', () => {
  it('R10 an event older than 7 days is refused', () => {
    expect(reddit.refuse?.(item({ time: NOW_S - 168 * 3600 - 1 }), ctx())).toMatch(
      /^event too old/,
    );
    expect(reddit.refuse?.(item({ time: NOW_S - 160 * 3600 }), ctx())).toBeNull();
  });

  it('R11 an event with no match key is refused; a click id alone is enough', () => {
    expect(reddit.refuse?.(item({ user: { anonymous_id: 'p', ip: '192.0.2.1' } }), ctx())).toMatch(
      /no match key/,
    );
    expect(reddit.refuse?.(item({ user: { rdt_cid: 'x' } }), ctx())).toBeNull();
  });
});

describe('reddit interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' }), item({ id: 'c' })];
  const read = (r: HttpResult) => reddit.interpret!(r, items, NOW);

  it('R20 a 200 delivers every item', () => {
    const r = read(answer(200, { message: 'Successfully processed 3 conversion events.' }));
    expect(r.verdicts.every((v) => v.action === 'done')).toBe(true);
    expect(r.detail).toBe('Successfully processed 3 conversion events.');
  });

  it('R21 a 400 naming invalid events drops those and retries the rest at once', () => {
    const r = read(
      answer(400, {
        message: 'There were 1 invalid conversion events. None were processed.',
        invalid_events: [
          {
            error_message: 'event_at timestamp must be less than 168h0m0s old',
            event: {
              event_type: { tracking_type: 'Purchase' },
              event_metadata: { conversion_id: 'b' },
            },
          },
        ],
      }),
    );
    expect(r.verdicts.map((v) => v.action)).toEqual(['retry', 'drop', 'retry']);
    expect(r.verdicts[0]).toMatchObject({ retryAfterMs: 0 });
    expect(r.detail).toBe(
      'There were 1 invalid conversion events. None were processed.; event_at timestamp must be less than 168h0m0s old',
    );
  });

  it('R22 invalid events are also found by event_index, or by hashed id in a cut-off body', () => {
    const byIndex = read(
      answer(400, {
        message: 'There were 1 invalid conversion events.',
        invalid_events: [{ event_index: 2, error_message: 'bad' }],
      }),
    );
    expect(byIndex.verdicts.map((v) => v.action)).toEqual(['retry', 'retry', 'drop']);
    const cut = `{"message":"There were 1 invalid conversion events. None were processed.","invalid_events":[{"error_message":"x","event":{"event_metadata":{"conversion_id":"${sha256Hex('a')}"},"user":{"email":"97`;
    expect(read(answer(400, cut)).verdicts.map((v) => v.action)).toEqual([
      'drop',
      'retry',
      'retry',
    ]);
  });

  it('R23 a 400 that names no event it can be matched to drops the batch', () => {
    const r = read(answer(400, 'Bad Request'));
    expect(r.verdicts.map((v) => v.action)).toEqual(['drop', 'drop', 'drop']);
  });

  it('R24 401 UNAUTHORIZED pauses the destination', () => {
    const r = read(
      answer(401, {
        success: false,
        error: {
          reason: 'UNAUTHORIZED',
          explanation:
            'This server could not verify that you are authorized to access the document you requested.',
        },
      }),
    );
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.detail).toMatch(/^UNAUTHORIZED: This server could not verify/);
    expect(read(answer(401, 'Authorization Required')).verdicts[0].action).toBe('pause');
  });

  it('R25 403 pauses when the token may not post to the account, drops a JSON type error', () => {
    const denied = read(
      answer(403, "You're not authorized to post conversions to Pixel ID a2_abc123."),
    );
    expect(denied.verdicts[0].action).toBe('pause');
    const typeError = read(
      answer(403, {
        success: false,
        error: {
          reason: 'UNAUTHORIZED',
          explanation: 'JSON error unexpected type number on field events event_metadata value',
        },
      }),
    );
    expect(typeError.verdicts[0].action).toBe('drop');
  });

  it('R26 429 retries after Retry-After; 500 and network errors retry', () => {
    const limited = read(answer(429, 'Too many requests/events within timeframe.', '30'));
    expect(limited.verdicts[0]).toEqual({
      action: 'retry',
      reason: 'rate limited, retry after 30 s: Too many requests/events within timeframe.',
      retryAfterMs: 30_000,
    });
    expect(read(answer(500, 'The service is currently unavailable.')).verdicts[0].action).toBe(
      'retry',
    );
    expect(read({ kind: 'network', error: 'ECONNRESET' }).verdicts[0].action).toBe('retry');
  });
});
