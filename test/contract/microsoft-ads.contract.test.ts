import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const TAG = '97247724';
const TOKEN = 'uet-contract-token';
const MSCLKID = 'cdd4afcccb1c9a4cad9544dd7e5006d5';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const microsoft = (over: Record<string, unknown> = {}) => ({
  type: 'microsoft_ads',
  tag_id: TAG,
  access_token: TOKEN,
  ...over,
});

const webPurchase = (id: string) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: 'Test@Example.com',
      phone: '+1 425 555 0100',
      msclkid: MSCLKID,
    },
    properties: {
      value: 49.9,
      currency: 'EUR',
      order_id: `T-${id}`,
      url: 'https://shop.example/thanks',
    },
    consent: { ads: true, analytics: true },
  });

const OK = { status: 200, body: { eventsReceived: 1 } };

async function onlyDelivery(base: string, status: string) {
  const [row] = await waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length ? d : null;
  });
  return (await admin(base, `/api/deliveries/${row.id}`)).body;
}

describe('microsoft ads destination contract', () => {
  it('MSC01 the request matches the documented schema; hashes, msclkid and token arrive', async () => {
    rig = await destinationRig(microsoft(), () => OK);
    await rig.impression('IMP-MS1');
    await rig.send([webPurchase('ord-ms1')]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/v1/${TAG}/events`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const body = JSON.parse(req.body);
    expect(schemaErrors('microsoft_ads', body)).toEqual([]);
    expect(body.data[0]).toMatchObject({
      eventType: 'custom',
      eventName: 'purchase',
      eventId: 'ord-ms1',
      adStorageConsent: 'G',
      userData: {
        em: sha('test@example.com'),
        ph: sha('+14255550100'),
        msclkid: 'cdd4afcc-cb1c-9a4c-ad95-44dd7e5006d5',
        clientIpAddress: '127.0.0.1',
        clientUserAgent: UA,
      },
      customData: { value: 49.9, currency: 'EUR', transactionId: 'T-ord-ms1' },
    });
    await onlyDelivery(rig.base, 'delivered');
  });

  it('MSC02 the schema catches a clear-text email and a page load without URL', () => {
    const errors = schemaErrors('microsoft_ads', {
      data: [
        {
          eventType: 'custom',
          eventName: 'purchase',
          eventTime: 1763900000,
          userData: { em: 'a@b.c' },
        },
        { eventType: 'pageLoad', eventTime: 1763900000, userData: { clientIpAddress: '1.2.3.4' } },
      ],
    });
    expect(errors.some((e) => e.startsWith('/data/0/userData/em'))).toBe(true);
    expect(errors.some((e) => e.startsWith('/data/1'))).toBe(true);
  });

  it('MSC03 an event Microsoft skips by index fails once with its words; no retry', async () => {
    rig = await destinationRig(microsoft(), () => ({
      status: 200,
      body: {
        eventsReceived: 0,
        error: {
          code: 'ValidationError',
          message: 'Some events failed validation',
          details: [{ index: 0, propertyName: 'eventName', errorMessage: 'Unknown goal' }],
        },
      },
    }));
    await rig.impression('IMP-MS3');
    await rig.send([webPurchase('ord-ms3')]);
    const failed = await onlyDelivery(rig.base, 'failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0].error).toBe('refused by Microsoft: eventName: Unknown goal');
    expect(rig.platform.got).toHaveLength(1);
  });

  it('MSC04 a 500 is retried with the same eventId', async () => {
    rig = await destinationRig(microsoft(), (_r, n) => (n === 1 ? { status: 500, body: {} } : OK));
    await rig.impression('IMP-MS4');
    await rig.send([webPurchase('ord-ms4')]);
    const [a, b] = await rig.received(2);
    expect(JSON.parse(b.body).data[0].eventId).toBe(JSON.parse(a.body).data[0].eventId);
    await onlyDelivery(rig.base, 'delivered');
  });

  it('MSC05 a 401 pauses the destination and the token stays masked', async () => {
    rig = await destinationRig(microsoft(), () => ({
      status: 401,
      body: { error: { code: 'Unauthorized', message: 'Invalid token' } },
    }));
    await rig.impression('IMP-MS5');
    await rig.send([webPurchase('ord-ms5')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toBe(
      'Conversions API token refused for this UET tag: Invalid token',
    );
    expect(dest.settings.access_token).toBe('****');
    expect(rig.platform.got).toHaveLength(1);
  });
});
