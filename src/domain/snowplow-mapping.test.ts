import { describe, expect, it } from 'vitest';
import { mapSnowplowPayload, payloadItems } from './snowplow-mapping.js';

/** base64url without padding, as the trackers encode `ue_px` and `cx`. */
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const base = {
  aid: 'env_demo',
  p: 'web',
  eid: 'f7c4a1d2-0000-4000-8000-000000000001',
  dtm: '1763899000123',
  duid: 'duid-1',
  nuid: 'nuid-1',
  uid: 'u42',
  url: 'https://shop.example/thanks',
  refr: 'https://ads.example/',
};

const transaction = {
  schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
  data: {
    schema:
      'iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2',
    data: { type: 'transaction' },
  },
};
const entities = {
  schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
  data: [
    {
      schema: 'iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/jsonschema/1-0-0',
      data: { transaction_id: 'ord-9', revenue: 80, currency: 'USD', payment_method: 'card' },
    },
    {
      schema: 'iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0',
      data: { id: 'sku1', price: 40, currency: 'USD', quantity: 2 },
    },
  ],
};

describe('Snowplow payload mapping', () => {
  it('SP01 pv is a PageView with duid as anonymous id, uid as user id, eid as event id', () => {
    const r = mapSnowplowPayload({ ...base, e: 'pv', page: 'Thanks' });
    expect(r.ok === true && r.sources()).toMatchObject({
      event_id: 'eid',
      'user.anonymous_id': 'duid',
    });
    expect(r).toEqual({
      ok: true,
      sources: expect.any(Function),
      app_id: 'env_demo',
      server: false,
      event: {
        event_name: 'PageView',
        event_id: base.eid,
        event_time: '1763899000123',
        user: { anonymous_id: 'duid-1', user_id: 'u42' },
        properties: { title: 'Thanks', url: base.url, referrer: base.refr },
      },
    });
  });

  it('SP02 an ecommerce transaction (ue_px and cx base64url, unpadded) is a Purchase with value, currency, products', () => {
    const r = mapSnowplowPayload({
      ...base,
      e: 'ue',
      ue_px: b64url(transaction),
      cx: b64url(entities),
    });
    expect(b64url(transaction).endsWith('=')).toBe(false);
    expect(r).toMatchObject({
      ok: true,
      event: {
        event_name: 'Purchase',
        properties: {
          value: 80,
          currency: 'USD',
          content_ids: ['sku1'],
          num_items: 2,
          order_id: 'ord-9',
        },
      },
    });
  });

  it('SP03 plain ue_pr and co work like their encoded forms', () => {
    const r = mapSnowplowPayload({
      ...base,
      e: 'ue',
      ue_pr: JSON.stringify(transaction),
      co: JSON.stringify(entities),
    });
    expect(r).toMatchObject({
      ok: true,
      event: { event_name: 'Purchase', properties: { value: 80 } },
    });
  });

  it('SP04 tr is a Purchase from tr_tt and tr_cu; ti is a PurchaseItem', () => {
    const tr = mapSnowplowPayload({ ...base, e: 'tr', tr_id: 'o1', tr_tt: '25.5', tr_cu: 'EUR' });
    expect(tr).toMatchObject({
      ok: true,
      event: {
        event_name: 'Purchase',
        properties: { order_id: 'o1', value: '25.5', currency: 'EUR' },
      },
    });
    const ti = mapSnowplowPayload({
      ...base,
      e: 'ti',
      ti_id: 'o1',
      ti_sk: 'sku3',
      ti_pr: '5',
      ti_qt: '2',
    });
    expect(ti).toMatchObject({
      ok: true,
      event: { event_name: 'PurchaseItem', properties: { content_ids: ['sku3'], quantity: '2' } },
    });
  });

  it('SP05 se is named by its action and valued by se_va', () => {
    const r = mapSnowplowPayload({ ...base, e: 'se', se_ca: 'form', se_ac: 'Lead', se_va: '3' });
    expect(r).toMatchObject({
      ok: true,
      event: { event_name: 'Lead', properties: { category: 'form', value: '3' } },
    });
  });

  it('SP06 nuid stands in when there is no duid; srv platform is a server event', () => {
    const r = mapSnowplowPayload({
      ...base,
      duid: undefined,
      p: 'srv',
      e: 'pv',
      ip: '203.0.113.9',
    });
    expect(r).toMatchObject({
      ok: true,
      server: true,
      event: { user: { anonymous_id: 'nuid-1', ip: '203.0.113.9' } },
    });
  });

  it('SP07 page pings are skipped; bad e, missing aid and broken ue_px are named', () => {
    expect(mapSnowplowPayload({ ...base, e: 'pp' })).toEqual({ ok: 'skip', reason: 'page_ping' });
    expect(mapSnowplowPayload({ ...base, e: 'zz' })).toMatchObject({
      ok: false,
      errors: [{ field: 'e' }],
    });
    expect(mapSnowplowPayload({ ...base, aid: undefined, e: 'pv' })).toMatchObject({
      ok: false,
      errors: [{ field: 'aid' }],
    });
    expect(mapSnowplowPayload({ ...base, e: 'ue', ue_px: '@@@' })).toMatchObject({
      ok: false,
      errors: [{ field: 'ue_px', message: 'is not base64url-encoded JSON' }],
    });
  });

  it('SP08 payload_data envelopes are recognised by schema', () => {
    const data = [{ e: 'pv' }];
    expect(
      payloadItems({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data,
      }),
    ).toBe(data);
    expect(payloadItems({ schema: 'iglu:other/x/jsonschema/1-0-0', data })).toBeNull();
  });

  it('SP09 mobile trackers send from the device: not a server event; mobile_context ids come along', () => {
    const cx = {
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: [
        {
          schema: 'iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3',
          data: { osType: 'ios', appleIdfa: 'IDFA-9', appleIdfv: 'IDFV-9' },
        },
      ],
    };
    const r = mapSnowplowPayload({ ...base, p: 'mob', e: 'pv', cx: b64url(cx) });
    expect(r).toMatchObject({
      ok: true,
      server: false,
      event: { user: { idfa: 'IDFA-9', idfv: 'IDFV-9', os: 'ios' } },
    });
    expect(r.ok === true && r.sources()['user.os']).toBe('cx');
  });

  it('SP09 sources name the field each value was read from: ue_pr before ue_px, an empty ttm is dtm', () => {
    const r = mapSnowplowPayload({
      ...base,
      e: 'ue',
      ttm: '',
      ue_pr: JSON.stringify({
        data: { schema: 'iglu:com.acme/signup/jsonschema/1-0-0', data: { plan: 'pro' } },
      }),
      ue_px: 'ignored',
    });
    expect(r.ok === true && r.sources()).toMatchObject({
      event_name: 'ue_pr',
      event_time: 'dtm',
      'properties.value': 'ue_pr',
    });
  });
});
