import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const IMP = '49gCBlwj-9d33-0927-s9g7-sd7nF3D248d5';
const TDID = '5b2f7a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const ttd = (over: Record<string, unknown> = {}) => ({
  type: 'tradedesk',
  advertiser_id: '4w1ba8e',
  tracker_id: 'hc7ihke',
  ...over,
});

const order = (id: string, user: Record<string, unknown> = {}) =>
  purchase(id, {
    user: { ip: '127.0.0.1', user_agent: UA, ...user },
    properties: { value: 25.97, currency: 'USD', order_id: `o-${id}`, content_ids: ['sku1'] },
  });

const OK = { status: 200, body: { Message: null, EventResponses: [] } };

async function deliveries(base: string, status: string) {
  return waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length ? d : null;
  });
}

describe('the trade desk destination contract', () => {
  it('TDC01 a view-through purchase reaches TTD as documented, tied to the impression (imp)', async () => {
    rig = await destinationRig(ttd(), () => OK);
    await rig.impression(IMP);
    await rig.send([order('ord-td1', { tdid: TDID })]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/track/realtimeconversion');
    const body = JSON.parse(req.body);
    expect(schemaErrors('tradedesk', body)).toEqual([]);
    expect(body.data[0]).toMatchObject({
      tracker_id: 'hc7ihke',
      adv: '4w1ba8e',
      event_name: 'purchase',
      value: 25.97,
      currency: 'USD',
      order_id: 'o-ord-td1',
      imp: IMP,
      adid: TDID,
      adid_type: 'TDID',
      client_ip: '127.0.0.1',
    });
    await deliveries(rig.base, 'delivered');
  });

  it('TDC02 the schema catches a value without currency and a made-up adid_type', () => {
    const errors = schemaErrors('tradedesk', {
      data: [
        { tracker_id: 't', adv: 'a', event_name: 'purchase', value: 1 },
        { tracker_id: 't', adv: 'a', event_name: 'purchase', adid: 'x', adid_type: 'COOKIE' },
      ],
    });
    expect(errors.some((e) => e.startsWith('/data/0'))).toBe(true);
    expect(errors.some((e) => e.startsWith('/data/1/adid_type'))).toBe(true);
  });

  it("TDC03 a 400 naming the event fails it with TTD's words, once, and never retries", async () => {
    rig = await destinationRig(ttd(), () => ({
      status: 400,
      body: {
        Message: null,
        EventResponses: [
          {
            EventIndex: 0,
            EventErrors: [{ Error: 'InvalidTrackerId', ErrorMessage: 'Unknown tracker.' }],
            Successful: false,
          },
        ],
      },
    }));
    await rig.impression(IMP);
    await rig.send([order('ord-td3')]);
    const [row] = await deliveries(rig.base, 'failed');
    const detail = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0].error).toBe(
      'refused by The Trade Desk: InvalidTrackerId: Unknown tracker.',
    );
    expect(rig.platform.got).toHaveLength(1);
  });

  it('TDC04 a 503 is retried with the same order and impression', async () => {
    rig = await destinationRig(ttd(), (_r, n) => (n === 1 ? { status: 503, body: {} } : OK));
    await rig.impression(IMP);
    await rig.send([order('ord-td4')]);
    const [a, b] = await rig.received(2);
    expect(JSON.parse(b.body).data[0]).toEqual(JSON.parse(a.body).data[0]);
    await deliveries(rig.base, 'delivered');
  });

  it('TDC05 a 402 pauses the destination and says why', async () => {
    rig = await destinationRig(ttd(), () => ({
      status: 402,
      body: { Message: 'Payment Required' },
    }));
    await rig.impression(IMP);
    await rig.send([order('ord-td5')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toMatch(/tracker or advertiser not set up/);
    expect(rig.platform.got).toHaveLength(1);
  });

  it('TDC06 a visitor who sent GPC reaches TTD under Limited Data Use when the operator opts in', async () => {
    rig = await destinationRig(
      ttd({ attributed_only: false, limited_data_use: true, ldu_region: 'US-CA' }),
      () => OK,
    );
    const res = await fetch(`${rig.base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-gpc': '1', 'user-agent': UA },
      body: JSON.stringify({
        env_id: 'env_t',
        event_name: 'Purchase',
        event_id: 'ord-td6',
        user: { imp_id: IMP },
        properties: { value: 5, currency: 'USD', url: 'https://shop.example/thanks' },
      }),
    });
    expect(res.status).toBe(204);
    const [req] = await rig.received(1);
    const body = JSON.parse(req.body);
    expect(schemaErrors('tradedesk', body)).toEqual([]);
    expect(body.data[0]).toMatchObject({
      td1: 'ord-td6',
      imp: IMP,
      data_processing_option: { policies: ['LDU'], region: 'US-CA' },
    });
  });
});
