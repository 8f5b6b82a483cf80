import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const GA4 = { type: 'ga4', measurement_id: 'G-CONTRACT1', api_secret: 'mp-secret' };

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** The received request as the schema sees it. */
function request(r: Received) {
  const url = new URL(r.url, 'http://x');
  return {
    method: r.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: r.headers,
    body: JSON.parse(r.body),
  };
}

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
  }>;
}

describe('ga4 destination contract', () => {
  it('GA01 the request matches the Measurement Protocol schema; ids and hashes arrive', async () => {
    rig = await destinationRig(GA4, () => 204);
    await rig.impression('IMP-GA1');
    const ev = purchase('ord-ga1', {
      user: {
        ip: '127.0.0.1',
        user_agent: UA,
        anonymous_id: 'ptid-ga-1',
        user_id: 'u42',
        email: 'Test@Example.com',
        phone: '+1 555 0100 222',
      },
      properties: { value: 49.9, currency: 'EUR', content_ids: ['sku1'] },
    });
    expect((await rig.send([ev])).status).toBe(200);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('ga4', req)).toEqual([]);
    expect(req.path).toBe('/mp/collect');
    expect(req.query).toEqual({ measurement_id: 'G-CONTRACT1', api_secret: 'mp-secret' });
    expect(req.body).toMatchObject({
      client_id: expect.stringMatching(/^\d+\.\d+$/),
      user_id: 'u42',
      user_data: { sha256_email_address: [EMAIL_SHA] },
      events: [
        {
          name: 'purchase',
          params: {
            transaction_id: 'ord-ga1',
            value: 49.9,
            currency: 'EUR',
            items: [{ item_id: 'sku1' }],
            // The impression's campaign, from the attribution.
            campaign_id: 'c1',
          },
        },
      ],
    });
    expect(got.body).not.toMatch(/example\.com|15550100222/i);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('GA02 test mode asks the validation server; its validationMessages drop without retry', async () => {
    rig = await destinationRig({ ...GA4, test_mode: true }, () => ({
      status: 200,
      body: {
        validationMessages: [
          {
            fieldPath: 'events',
            description:
              'Event at index: [0] has invalid name [purchase]. Names must start with an alphabetic character.',
            validationCode: 'NAME_INVALID',
          },
        ],
      },
    }));
    await rig.impression('IMP-GA2');
    await rig.send([purchase('ord-ga2')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(req.path).toBe('/debug/mp/collect');
    expect(req.body.validation_behavior).toBe('ENFORCE_RECOMMENDATIONS');
    expect(schemaErrors('ga4', req)).toEqual([]);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toMatch(/NAME_INVALID/);
  });

  it('GA03 a 5xx is retried with the same payload, then delivered', async () => {
    rig = await destinationRig(GA4, (_r, n) => (n === 1 ? 503 : 204));
    await rig.impression('IMP-GA3');
    await rig.send([purchase('ord-ga3')]);
    const [first, second] = await rig.received(2);
    expect(second.body).toBe(first.body);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('GA04 a 400 is not retried', async () => {
    rig = await destinationRig(GA4, () => 400);
    await rig.impression('IMP-GA4');
    await rig.send([purchase('ord-ga4')]);
    await rig.received(1);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'failed');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('GA05 an event older than 72 h is refused before sending', async () => {
    rig = await destinationRig({ ...GA4, attributed_only: false }, () => 204);
    const old = Math.floor(Date.now() / 1000) - 4 * 86_400;
    await rig.send([purchase('ord-ga5', { event_time: old })]);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toMatch(/72 h/);
    expect(rig.platform.got).toHaveLength(0);
  });

  it('GA06 the schema catches a wrong request (the check can fail)', () => {
    const bad = {
      method: 'POST',
      path: '/mp/collect',
      query: { measurement_id: 'UA-1-1', api_secret: 's' },
      headers: { 'content-type': 'application/json' },
      body: {
        client_id: 'abc',
        events: Array.from({ length: 26 }, () => ({ name: 'purchase', params: { value: 1 } })),
      },
    };
    const errors = schemaErrors('ga4', bad);
    expect(errors.join('\n')).toMatch(/measurement_id/);
    expect(errors.join('\n')).toMatch(/client_id/);
    expect(errors.join('\n')).toMatch(/events/);
  });
});
