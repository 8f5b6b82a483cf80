import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** Snap's published vectors: `+44 844 412 4653` → 448444124653, and test@example.com. */
const PHONE_SHA = 'dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383';
const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const PIXEL = '1ec32188-754e-4be2-8e55-c949a984a39f';
const TOKEN = 'snap-contract-token';
const SC_CLICK_ID = 'a3f4b5c6-d7e8-9012-3456-7890abcdef12';

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const snap = (over: Record<string, unknown> = {}) => ({
  type: 'snapchat',
  pixel_id: PIXEL,
  access_token: TOKEN,
  ...over,
});

const webPurchase = (id: string) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: 'test@example.com',
      phone: '+44 844 412 4653',
      sc_click_id: SC_CLICK_ID,
    },
    properties: { value: 49.9, currency: 'EUR', url: 'https://shop.example/thanks' },
  });

const VALID = {
  status: 200,
  body: { status: 'VALID', reason: 'Events have been processed successfully.' },
};

async function onlyDelivery(base: string, status: string) {
  const [row] = await waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length ? d : null;
  });
  return (await admin(base, `/api/deliveries/${row.id}`)).body;
}

describe('snapchat destination contract', () => {
  it('SC01 the request matches the documented schema; hashes and sc_click_id arrive', async () => {
    rig = await destinationRig(snap(), () => VALID);
    await rig.impression('IMP-SC1');
    await rig.send([webPurchase('ord-sc1')]);
    const [req] = await rig.received(1);
    const url = new URL(req.url, 'http://x');
    expect(req.method).toBe('POST');
    expect(url.pathname).toBe(`/v3/${PIXEL}/events`);
    expect(url.searchParams.get('access_token')).toBe(TOKEN);
    const body = JSON.parse(req.body);
    expect(schemaErrors('snapchat', body)).toEqual([]);
    expect(body.data[0]).toMatchObject({
      event_name: 'PURCHASE',
      event_id: 'ord-sc1',
      action_source: 'WEB',
      user_data: {
        em: [TEST_EMAIL_SHA],
        ph: [PHONE_SHA],
        sc_click_id: SC_CLICK_ID,
        client_ip_address: '127.0.0.1',
        client_user_agent: UA,
      },
      custom_data: { value: 49.9, currency: 'EUR' },
    });
    await onlyDelivery(rig.base, 'delivered');
  });

  it('SC02 the schema catches a Meta-style name and a purchase without currency', () => {
    const errors = schemaErrors('snapchat', {
      data: [
        {
          event_name: 'Purchase',
          event_time: 1763900000,
          action_source: 'OFFLINE',
          user_data: { em: [TEST_EMAIL_SHA] },
        },
        {
          event_name: 'PURCHASE',
          event_time: 1763900000,
          action_source: 'OFFLINE',
          user_data: { em: [TEST_EMAIL_SHA] },
          custom_data: { value: 1 },
        },
      ],
    });
    expect(errors.some((e) => e.startsWith('/data/0/event_name'))).toBe(true);
    expect(errors.some((e) => e.startsWith('/data/1/custom_data'))).toBe(true);
  });

  it('SC03 test_mode posts to the /events/validate Test Event Tool', async () => {
    rig = await destinationRig(snap({ test_mode: true }), () => ({
      status: 200,
      body: { status: 'VALID', test_event: true, event_logs: [] },
    }));
    await rig.impression('IMP-SC3');
    await rig.send([webPurchase('ord-sc3')]);
    const [req] = await rig.received(1);
    expect(new URL(req.url, 'http://x').pathname).toBe(`/v3/${PIXEL}/events/validate`);
  });

  it('SC04 a 500 is retried with the same event_id', async () => {
    rig = await destinationRig(snap(), (_r, n) =>
      n === 1 ? { status: 500, body: { status: 'INVALID', reason: 'Internal error' } } : VALID,
    );
    await rig.impression('IMP-SC4');
    await rig.send([webPurchase('ord-sc4')]);
    const [a, b] = await rig.received(2);
    expect(JSON.parse(a.body).data[0].event_id).toBe(JSON.parse(b.body).data[0].event_id);
    await onlyDelivery(rig.base, 'delivered');
  });

  it("SC05 a 400 INVALID is not retried; Snap's reason lands in the delivery log", async () => {
    rig = await destinationRig(snap(), () => ({
      status: 400,
      body: { status: 'INVALID', reason: 'Unhashed PII' },
    }));
    await rig.impression('IMP-SC5');
    await rig.send([webPurchase('ord-sc5')]);
    const failed = await onlyDelivery(rig.base, 'failed');
    expect(failed.attempts[0].error).toBe('events refused by Snap: Unhashed PII');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('SC06 a 401 pauses the destination', async () => {
    rig = await destinationRig(snap(), () => ({
      status: 401,
      body: { status: 'INVALID', reason: 'Invalid access token' },
    }));
    await rig.impression('IMP-SC6');
    await rig.send([webPurchase('ord-sc6')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toBe('access token refused for this pixel: Invalid access token');
    expect(dest.settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });
});
