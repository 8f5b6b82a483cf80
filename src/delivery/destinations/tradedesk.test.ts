import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import {
  type TestItemOptions,
  testDestination,
  testItem,
} from '../../../test/fixtures/destination.js';
import { secretFields } from '../../config/config-parse.js';
import type { Attribution } from '../../domain/attribution.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { UserKeys } from '../../domain/event.js';
import type { DeliveryContext, DeliveryItem, HttpResult } from './adapter.js';
import { TTD_MAX_EVENTS, tradeDeskDestination as ttd } from './tradedesk.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const IMP = '49gCBlwj-9d33-0927-s9g7-sd7nF3D248d5';
const TDID = '5b2f7a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
type Settings = {
  advertiser_id: string;
  tracker_id: string;
  merchant_id?: string;
  limited_data_use?: boolean;
  ldu_region?: string;
};

/** Ads denied by a US opt-out of sale only (GPC), the case Limited Data Use is for. */
const GPC_ONLY = { ads: false, analytics: null, signals: ['gpc'] };

function ctx(
  over: Partial<DestinationConfig> = {},
  extra: Partial<Settings> = {},
): DeliveryContext<Settings> {
  const settings = { advertiser_id: '4w1ba8e', tracker_id: 'hc7ihke', ...extra };
  const dest = testDestination({ id: 'ttd', type: 'tradedesk', settings, ...over });
  return { dest, settings, nowMs: NOW };
}

const view = (imp_id = IMP): Attribution => ({
  type: 'view',
  imp_id,
  click_id: null,
  campaign_id: 'c1',
  creative_id: null,
  placement_id: null,
  touch_time: NOW_S - 3600,
  match_key: 'cookie',
  match_type: 'deterministic',
  window: '1d',
  model: 'last_touch',
});

const user: UserKeys = { ip: '203.0.113.9', user_agent: 'Mozilla/5.0', anonymous_id: 'pt-1' };

function item(over: TestItemOptions = {}, attribution: Attribution | null = view()): DeliveryItem {
  const it = testItem(
    {
      dest_id: 'ttd',
      source: 'server',
      nowS: NOW_S,
      user,
      props: { value: 25.97, currency: 'USD', order_id: 'abc123XyZ', content_ids: ['203319203'] },
    },
    over,
  );
  return { ...it, conversion: { ...it.conversion, attribution } };
}

const body = (items: DeliveryItem[], c = ctx()) =>
  JSON.parse(ttd.buildRequest(items, c).body ?? '{}');
const answer = (status: number, json: unknown, retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: JSON.stringify(json),
});

describe('tradedesk request', () => {
  it('TD01 posts data[] to /track/realtimeconversion with the impression id as imp', () => {
    const req = ttd.buildRequest([item()], ctx());
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://127.0.0.1:9/track/realtimeconversion');
    expect(req.headers).not.toHaveProperty('authorization');
    expect(JSON.parse(req.body ?? '')).toEqual({
      data: [
        {
          tracker_id: 'hc7ihke',
          adv: '4w1ba8e',
          event_name: 'purchase',
          value: 25.97,
          currency: 'USD',
          order_id: 'abc123XyZ',
          imp: IMP,
          client_ip: '203.0.113.9',
          items: [{ item_code: '203319203' }],
          td1: 'ord-1',
        },
      ],
    });
  });

  it('TD02 a click credit sends the click id as imp; without attribution the event imp_id', () => {
    const click: Attribution = { ...view(), type: 'click', imp_id: null, click_id: 'ttd-clk-imp' };
    expect(body([item({}, click)]).data[0].imp).toBe('ttd-clk-imp');
    const own = item({ user: { ...user, imp_id: 'imp-on-event' } }, null);
    expect(body([own]).data[0].imp).toBe('imp-on-event');
    expect(body([item({}, null)]).data[0]).not.toHaveProperty('imp');
  });

  it('TD03 the TDID goes as adid with adid_type TDID, before any device id', () => {
    const d = body([item({ user: { ...user, tdid: TDID, idfa: 'IDFA-1' } })]).data[0];
    expect(d).toMatchObject({ adid: TDID, adid_type: 'TDID' });
    const ios = body([item({ user: { ...user, idfa: 'IDFA-1' } })]).data[0];
    expect(ios).toMatchObject({ adid: 'IDFA-1', adid_type: 'IDFA' });
    const android = body([item({ user: { ...user, gaid: 'gaid-1' } })]).data[0];
    expect(android).toMatchObject({ adid: 'gaid-1', adid_type: 'AAID' });
    expect(body([item()]).data[0]).not.toHaveProperty('adid');
  });

  it('TD04 our names map to TTD event names; event_map overrides; merchant_id and page URL pass', () => {
    const c = ctx({ event_map: { Lead: 'quote_request' } }, { merchant_id: 'a7b3sd' });
    const d = body(
      [
        item({ name: 'AddToCart', id: 'a' }),
        item({ name: 'Lead', id: 'b', props: { url: 'https://shop.example/quote' } }),
      ],
      c,
    ).data;
    expect(d.map((x: { event_name: string }) => x.event_name)).toEqual([
      'addtocart',
      'quote_request',
    ]);
    expect(d[1]).toMatchObject({
      merchant_id: 'a7b3sd',
      referrer_url: 'https://shop.example/quote',
    });
    expect(d[1]).not.toHaveProperty('value');
  });

  it('TD05 with limited_data_use, a sale opt-out goes with LDU for the state; others without', () => {
    const c = ctx({}, { limited_data_use: true, ldu_region: 'US-CO' });
    const optedOut = item();
    optedOut.event = { ...optedOut.event, consent: GPC_ONLY };
    expect(ttd.refuse?.(optedOut, c)).toBeNull();
    expect(body([optedOut], c).data[0].data_processing_option).toEqual({
      policies: ['LDU'],
      region: 'US-CO',
    });
    expect(body([item()], c).data[0]).not.toHaveProperty('data_processing_option');
    expect(ttd.refuse?.(optedOut, ctx())).toBe('ads consent denied');
    const stated = item();
    stated.event = {
      ...stated.event,
      consent: { ads: false, analytics: null, signals: ['stated_ads_denied', 'gpc'] },
    };
    expect(ttd.refuse?.(stated, c)).toBe('ads consent denied');
  });

  it('TD07 contents give items with code, quantity and price', () => {
    const d = body([
      item({
        props: { value: 30, currency: 'USD', contents: [{ id: 'a', quantity: 2, item_price: 15 }] },
      }),
    ]).data[0];
    expect(d.items).toEqual([{ item_code: 'a', qty: 2, price: 15 }]);
  });

  it('TD06 the settings schema needs advertiser and tracker, has no secret, checks the region', () => {
    const ok = { advertiser_id: 'adv', tracker_id: 'trk' };
    expect(Value.Check(ttd.settingsSchema, ok)).toBe(true);
    expect(Value.Check(ttd.settingsSchema, { advertiser_id: 'adv' })).toBe(false);
    expect(Value.Check(ttd.settingsSchema, { ...ok, ldu_region: 'California' })).toBe(false);
    expect(Value.Check(ttd.settingsSchema, { ...ok, token: 'x' })).toBe(false);
    expect(ttd.checkSettings?.({ ...ok, limited_data_use: true })).toEqual([
      { field: 'ldu_region', message: 'is required when limited_data_use is true' },
    ]);
    expect(ttd.checkSettings?.({ ...ok, limited_data_use: true, ldu_region: 'US-CA' })).toEqual([]);
    expect(secretFields(ttd.settingsSchema)).toEqual([]);
    expect(ttd.maxBatch).toBe(TTD_MAX_EVENTS);
    expect(ttd.buildRequest([item()], ctx({ base_url: null })).url).toBe(
      'https://insight.adsrvr.org/track/realtimeconversion',
    );
  });
});

describe('tradedesk refuse', () => {
  it('TD10 denied ads consent and test_mode send nothing', () => {
    const denied = item();
    denied.event = { ...denied.event, consent: { ads: false, analytics: null } };
    expect(ttd.refuse?.(denied, ctx())).toBe('ads consent denied');
    expect(ttd.refuse?.(item(), ctx({ test_mode: true }))).toMatch(/^test_mode: .*no test channel/);
    expect(ttd.refuse?.(item(), ctx())).toBeNull();
  });

  it('TD11 a conversion with neither impression id nor TDID/device id is refused', () => {
    expect(ttd.refuse?.(item({}, null), ctx())).toMatch(/no TTD impression id/);
    expect(ttd.refuse?.(item({ user: { ...user, tdid: TDID } }, null), ctx())).toBeNull();
  });

  it('TD12 a value without its currency is refused', () => {
    expect(ttd.refuse?.(item({ props: { value: 5 } }), ctx())).toMatch(/currency/);
  });
});

describe('tradedesk interpret', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' })];
  const read = (r: HttpResult) => ttd.interpret!(r, items, NOW);

  it('TD20 a 200 with no errors delivers every conversion', () => {
    const r = read(answer(200, { Message: null, EventResponses: [] }));
    expect(r.verdicts).toEqual([{ action: 'done' }, { action: 'done' }]);
  });

  it("TD21 a 400 naming one event drops that one with TTD's words and delivers the other", () => {
    const r = read(
      answer(400, {
        Message: null,
        EventResponses: [
          {
            EventIndex: 1,
            EventErrors: [
              {
                Error: 'InvalidPrivacySetting',
                ErrorMessage: 'The request has an invalid privacy setting.',
              },
            ],
            EventWarnings: [],
            Successful: false,
          },
          { EventIndex: 0, EventErrors: [], Successful: true },
        ],
      }),
    );
    expect(r.verdicts).toEqual([
      { action: 'done' },
      {
        action: 'drop',
        reason:
          'refused by The Trade Desk: InvalidPrivacySetting: The request has an invalid privacy setting.',
      },
    ]);
    expect(r.detail).toBe(
      'event 1: InvalidPrivacySetting: The request has an invalid privacy setting.',
    );
  });

  it('TD22 a 400 naming no event drops the batch', () => {
    const r = read(answer(400, { Message: 'Malformed JSON' }));
    expect(r.verdicts[0]).toEqual({
      action: 'drop',
      reason: 'refused by The Trade Desk: Malformed JSON',
    });
  });

  it('TD23 402 (tracker not set up for this advertiser) pauses the destination', () => {
    const r = read(answer(402, { Message: 'Payment Required' }));
    expect(r.verdicts[0]).toMatchObject({ action: 'pause' });
    expect(r.verdicts[0]).toHaveProperty('reason', expect.stringMatching(/tracker or advertiser/));
  });

  it('TD24 429 waits for Retry-After; 5xx and network errors retry', () => {
    expect(read(answer(429, {}, '20')).verdicts[0]).toMatchObject({
      action: 'retry',
      retryAfterMs: 20_000,
    });
    expect(read(answer(503, {})).verdicts[1].action).toBe('retry');
    expect(read({ kind: 'network', error: 'ECONNRESET' }).verdicts[0]).toMatchObject({
      action: 'retry',
    });
  });
});
