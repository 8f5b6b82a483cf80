import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const TIKTOK = {
  type: 'tiktok',
  pixel_code: 'C4A1B2C3D4E5F6G7H8I9',
  access_token: 'tt-contract-token',
};
const REQUEST_ID = '202511231013200102231031430C7E754E';
/** TikTok answers HTTP 200 and says in `code` whether it worked. */
const tiktok = (code: number, message: string) => ({
  status: 200,
  body: { code, message, request_id: REQUEST_ID, data: {} },
});

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

function request(r: Received) {
  return {
    method: r.method,
    path: new URL(r.url, 'http://x').pathname,
    headers: r.headers,
    body: JSON.parse(r.body),
  };
}

/** A purchase by the test browser, clicked from a TikTok ad. */
const fromTiktok = (id: string) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: ' TEST@example.com',
      user_id: 'u42',
      ttclid: 'E.C.P.contract-click',
      ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
    },
    properties: {
      value: 49.9,
      currency: 'EUR',
      content_ids: ['sku1'],
      url: 'https://shop.example/thanks',
    },
  });

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
  }>;
}

async function firstAttemptError(base: string, status: string): Promise<string> {
  const row = (await waitFor(async () =>
    (await deliveries(base)).find((d) => d.status === status),
  ))!;
  return (await admin(base, `/api/deliveries/${row.id}`)).body.attempts[0].error;
}

describe('tiktok destination contract', () => {
  it('TTC01 the request matches the documented schema; ttclid, _ttp and hashed email arrive', async () => {
    rig = await destinationRig(TIKTOK, () => tiktok(0, 'OK'));
    await rig.impression('IMP-TT1');
    await rig.send([fromTiktok('ord-tt1')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('tiktok', req)).toEqual([]);
    expect(req.headers['access-token']).toBe('tt-contract-token');
    expect(req.body).toMatchObject({ event_source: 'web', event_source_id: TIKTOK.pixel_code });
    expect(req.body.data[0]).toMatchObject({
      event: 'Purchase',
      event_id: 'ord-tt1',
      user: {
        email: EMAIL_SHA,
        ttclid: 'E.C.P.contract-click',
        ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
        ip: '127.0.0.1',
        user_agent: UA,
      },
      properties: { value: 49.9, currency: 'EUR', contents: [{ content_id: 'sku1' }] },
      page: { url: 'https://shop.example/thanks' },
    });
    expect(got.body).not.toMatch(/test@example\.com/i);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('TTC02 code 40100 (too many requests) at HTTP 200 is retried with the same event_id', async () => {
    rig = await destinationRig(TIKTOK, (_r, n) =>
      n === 1 ? tiktok(40100, 'Too many requests. Please retry in some time.') : tiktok(0, 'OK'),
    );
    await rig.impression('IMP-TT2');
    await rig.send([fromTiktok('ord-tt2')]);
    const [first, second] = await rig.received(2);
    expect(second.body).toBe(first.body);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('TTC03 code 40002 (invalid parameters) at HTTP 200 is dropped without retry', async () => {
    rig = await destinationRig(TIKTOK, () =>
      tiktok(40002, 'data[0].properties.currency: Invalid currency.'),
    );
    await rig.impression('IMP-TT3');
    await rig.send([fromTiktok('ord-tt3')]);
    await rig.received(1);
    expect(await firstAttemptError(rig.base, 'failed')).toMatch(
      /^refused: code 40002: data\[0\]\.properties\.currency: Invalid currency\. \(request_id/,
    );
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('TTC04 code 40105 (invalid access token) pauses the destination, no retry', async () => {
    rig = await destinationRig(TIKTOK, () =>
      tiktok(40105, 'Access token is incorrect or has been revoked.'),
    );
    await rig.impression('IMP-TT4');
    await rig.send([fromTiktok('ord-tt4')]);
    await rig.received(1);
    const env = await waitFor(async () => {
      const e = (await admin(rig!.base, '/api/environments')).body.environments[0];
      return e.destinations[0].paused ? e : null;
    });
    expect(env.destinations[0].paused_reason).toMatch(/access token refused: code 40105/);
    expect(env.destinations[0].settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('TTC05 test mode sends the configured test_event_code', async () => {
    rig = await destinationRig({ ...TIKTOK, test_mode: true, test_event_code: 'TEST46302' }, () =>
      tiktok(0, 'OK'),
    );
    await rig.impression('IMP-TT5');
    await rig.send([fromTiktok('ord-tt5')]);
    const [got] = await rig.received(1);
    expect(schemaErrors('tiktok', request(got))).toEqual([]);
    expect(JSON.parse(got.body).test_event_code).toBe('TEST46302');
  });

  it('TTC06 the schema catches a wrong request (the check can fail)', () => {
    const bad = {
      method: 'POST',
      path: '/open_api/v1.2/pixel/track/',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: {
        pixel_code: 'C4A1',
        event_source_id: 'C4A1',
        data: [
          {
            event: 'Purchase',
            event_time: 1_763_900_000_000,
            user: { email: 'test@example.com', phone_number: '+15550109999' },
            properties: { value: '49.9', currency: 'euro' },
          },
        ],
      },
    };
    const errors = schemaErrors('tiktok', bad).join('\n');
    for (const what of [
      '/path',
      'access-token',
      '/headers/authorization',
      'event_source',
      'event_time',
      'email',
      '/body/data/0/user must NOT have additional properties',
      'value',
      'currency',
    ])
      expect(errors).toMatch(what);
  });

  it('TTC20 name and address arrive hashed in user; products with quantity and price', async () => {
    rig = await destinationRig(TIKTOK, () => tiktok(0, 'OK'));
    await rig.impression('IMP-TT20');
    const base = fromTiktok('ord-tt20');
    const ev = {
      ...base,
      user: {
        ...base.user,
        first_name: 'Mary',
        last_name: 'Smith',
        city: 'Menlo Park',
        state: 'California',
        country: 'US',
        zip: '94025-1234',
      },
      properties: {
        ...base.properties,
        contents: [{ id: 'sku1', quantity: 2, item_price: 24.95 }],
      },
    };
    await rig.send([ev]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('tiktok', req)).toEqual([]);
    const [event] = req.body.data;
    expect(event.user).toMatchObject({
      first_name: '6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec',
      state: '6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126',
      country: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621',
    });
    expect(event.properties.contents).toEqual([{ content_id: 'sku1', quantity: 2, price: 24.95 }]);
    expect(got.body).not.toMatch(/Mary|Smith|Menlo|94025/);
  });
});
