import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** SHA-256 of `test@example.com`. */
const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const FBC = 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890';
const FBP = 'fb.1.1558571054389.1098115397';
const TOKEN = 'EAAB-contract-token';

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const meta = (over: Record<string, unknown> = {}) => ({
  type: 'meta',
  pixel_id: '1234567890',
  access_token: TOKEN,
  ...over,
});

/** A purchase from the shop's page, by the browser that saw the impression. */
const webPurchase = (id: string, extra: Record<string, unknown> = {}) =>
  purchase(id, {
    user: { ip: '127.0.0.1', user_agent: UA, email: ' Test@Example.com', fbc: FBC, fbp: FBP },
    properties: {
      value: 49.9,
      currency: 'EUR',
      content_ids: ['sku1'],
      url: 'https://shop.example/thanks',
    },
    ...extra,
  });

/** A Graph API error answer. */
const graphError = (status: number, code: number, message: string, subcode?: number) => ({
  status,
  body: {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(subcode ? { error_subcode: subcode } : {}),
      fbtrace_id: 'AbCdEf123',
    },
  },
});

async function onlyDelivery(base: string, status: string) {
  const [row] = await waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length ? d : null;
  });
  return (await admin(base, `/api/deliveries/${row.id}`)).body;
}

describe('meta destination contract', () => {
  it('MC01 the request matches the documented schema; hashes, fbc/fbp and event_id arrive', async () => {
    rig = await destinationRig(meta({ test_event_code: 'TEST4242' }), () => ({
      status: 200,
      body: { events_received: 1, messages: [], fbtrace_id: 'x' },
    }));
    await rig.impression('IMP-MC1');
    await rig.send([webPurchase('ord-mc1')]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v21.0/1234567890/events');
    expect(req.headers['content-type']).toBe('application/json');
    const body = JSON.parse(req.body);
    expect(schemaErrors('meta', body)).toEqual([]);
    expect(body.access_token).toBe(TOKEN);
    // A test code filled in but test_mode off: production requests never carry it.
    expect(body).not.toHaveProperty('test_event_code');
    const [event] = body.data;
    expect(event).toMatchObject({
      event_name: 'Purchase',
      event_id: 'ord-mc1',
      action_source: 'website',
      event_source_url: 'https://shop.example/thanks',
      custom_data: { value: 49.9, currency: 'EUR', content_ids: ['sku1'] },
    });
    expect(event.user_data).toEqual({
      em: [TEST_EMAIL_SHA],
      client_ip_address: '127.0.0.1',
      client_user_agent: UA,
      fbc: FBC,
      fbp: FBP,
    });
    expect(req.body).not.toContain('test@example.com');
    const done = await onlyDelivery(rig.base, 'delivered');
    expect(done.attempts[0].response_excerpt).toBe('events_received 1');
  });

  it('MC02 the schema catches an unhashed email and a website event without its URL', () => {
    const bad = {
      access_token: 't',
      data: [
        {
          event_name: 'Purchase',
          event_time: 1763900000,
          action_source: 'website',
          user_data: { em: ['test@example.com'], client_user_agent: 'x' },
          custom_data: { value: 1, currency: 'EUR' },
        },
      ],
    };
    const errors = schemaErrors('meta', bad);
    expect(errors.some((e) => e.includes('/data/0/user_data/em/0'))).toBe(true);
    expect(errors.some((e) => e.includes('event_source_url'))).toBe(true);
  });

  it('MC03 conversions due together go as one request with up to batch.size events', async () => {
    rig = await destinationRig(meta({ batch: { size: 2, max_wait: '300ms' } }));
    await rig.impression('IMP-MC3');
    await rig.send([webPurchase('ord-mc3a'), webPurchase('ord-mc3b'), webPurchase('ord-mc3c')]);
    const got = await rig.received(2);
    await rig.settled();
    const ids = rig.platform.got.map((r) => JSON.parse(r.body).data.map((d: any) => d.event_id));
    expect(ids.map((l) => l.length).sort()).toEqual([1, 2]);
    expect(ids.flat().sort()).toEqual(['ord-mc3a', 'ord-mc3b', 'ord-mc3c']);
    for (const r of got) expect(schemaErrors('meta', JSON.parse(r.body))).toEqual([]);
  });

  it('MC04 a transient error (code 2) is retried with the same event_id', async () => {
    rig = await destinationRig(meta(), (_r, n) =>
      n === 1 ? graphError(500, 2, 'Service temporarily unavailable') : 200,
    );
    await rig.impression('IMP-MC4');
    await rig.send([webPurchase('ord-mc4')]);
    const [a, b] = await rig.received(2);
    expect(JSON.parse(a.body).data[0].event_id).toBe('ord-mc4');
    expect(JSON.parse(b.body).data[0].event_id).toBe('ord-mc4');
    await onlyDelivery(rig.base, 'delivered');
  });

  it('MC05 code 190 is not retried and pauses the destination with the reason', async () => {
    rig = await destinationRig(meta(), () =>
      graphError(400, 190, 'Error validating access token: Session has expired', 463),
    );
    await rig.impression('IMP-MC5');
    await rig.send([webPurchase('ord-mc5')]);
    const env = await waitFor(async () => {
      const e = (await admin(rig!.base, '/api/environments')).body.environments[0];
      return e.destinations[0].paused ? e : null;
    });
    expect(env.destinations[0].paused_reason).toMatch(
      /^access token refused: .*Session has expired/,
    );
    expect(env.destinations[0].settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it("MC06 code 100 (invalid parameter) is dropped, with Meta's words in the delivery log", async () => {
    rig = await destinationRig(meta(), () => graphError(400, 100, 'Invalid parameter'));
    await rig.impression('IMP-MC6');
    await rig.send([webPurchase('ord-mc6')]);
    const failed = await onlyDelivery(rig.base, 'failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0].error).toBe(
      'invalid parameter: Invalid parameter (code 100, fbtrace_id AbCdEf123)',
    );
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('MC07 a rate limit (code 17) is retried after Retry-After', async () => {
    rig = await destinationRig(meta(), (_r, n) =>
      n === 1
        ? { ...graphError(400, 17, 'User request limit reached'), headers: { 'retry-after': '1' } }
        : 200,
    );
    await rig.impression('IMP-MC7');
    await rig.send([webPurchase('ord-mc7')]);
    const [a, b] = await rig.received(2);
    expect(b.at - a.at).toBeGreaterThanOrEqual(950);
  });

  it('MC08 an event that turned 7 days old while waiting never reaches Meta', async () => {
    rig = await destinationRig(meta({ attributed_only: false, batch: { max_wait: '2500ms' } }));
    const time = Math.floor(Date.now() / 1000) - 7 * 86_400 + 1;
    await rig.send([webPurchase('ord-mc8', { event_time: time })]);
    const failed = await onlyDelivery(rig.base, 'failed');
    expect(failed.attempts[0].error).toBe(
      'event too old: Meta refuses website events older than 7 days',
    );
    expect(rig.platform.got).toHaveLength(0);
  });

  it('MC09 test_mode sends the configured test_event_code (Meta Test Events)', async () => {
    rig = await destinationRig(meta({ test_mode: true, test_event_code: 'TEST4242' }), () => ({
      status: 200,
      body: { events_received: 1, messages: [], fbtrace_id: 'x' },
    }));
    await rig.impression('IMP-MC9');
    await rig.send([webPurchase('ord-mc9')]);
    const [req] = await rig.received(1);
    const body = JSON.parse(req.body);
    expect(schemaErrors('meta', body)).toEqual([]);
    expect(body.test_event_code).toBe('TEST4242');
  });

  it('MC20 an offline sale 30 days old with name, address and products arrives as documented', async () => {
    rig = await destinationRig(meta({ attributed_only: false }), () => ({
      status: 200,
      body: { events_received: 1 },
    }));
    const time = Math.floor(Date.now() / 1000) - 30 * 86_400;
    await rig.send([
      purchase('ord-mc20', {
        event_time: time,
        action_source: 'physical_store',
        user: {
          email: 'John_Smith@gmail.com',
          first_name: 'Mary',
          last_name: 'Valéry',
          gender: 'f',
          date_of_birth: '2/16/1997',
          city: 'Menlo Park',
          state: 'CA',
          zip: '94025',
          country: 'United States',
        },
        properties: {
          value: 30,
          currency: 'USD',
          order_id: 'POS-9',
          contents: [{ id: 'sku1', quantity: 3, item_price: 10 }],
        },
      }),
    ]);
    const [req] = await rig.received(1);
    const body = JSON.parse(req.body);
    expect(schemaErrors('meta', body)).toEqual([]);
    const [event] = body.data;
    expect(event.action_source).toBe('physical_store');
    expect(event.event_time).toBe(time);
    expect(event.user_data).toMatchObject({
      em: ['62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'],
      fn: ['6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec'],
      ln: ['08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c'],
      db: ['01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c'],
      country: ['79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621'],
    });
    expect(Object.keys(event.user_data).sort()).toEqual(
      ['country', 'ct', 'db', 'em', 'fn', 'ge', 'ln', 'st', 'zp'].sort(),
    );
    expect(event.custom_data).toMatchObject({
      order_id: 'POS-9',
      contents: [{ id: 'sku1', quantity: 3, item_price: 10 }],
      num_items: 3,
    });
    expect(req.body).not.toMatch(/Mary|Menlo|94025/);
  });

  it('MC21 a visitor who sent GPC is delivered under Limited Data Use when the operator opts in', async () => {
    rig = await destinationRig(meta({ attributed_only: false, limited_data_use: true }), () => ({
      status: 200,
      body: { events_received: 1 },
    }));
    const res = await fetch(`${rig.base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-gpc': '1', 'user-agent': UA },
      body: JSON.stringify({
        env_id: 'env_t',
        event_name: 'Purchase',
        event_id: 'ord-mc21',
        properties: { value: 5, currency: 'EUR', url: 'https://shop.example/thanks' },
      }),
    });
    expect(res.status).toBe(204);
    const [req] = await rig.received(1);
    const body = JSON.parse(req.body);
    expect(schemaErrors('meta', body)).toEqual([]);
    expect(body.data[0]).toMatchObject({
      event_id: 'ord-mc21',
      data_processing_options: ['LDU'],
      data_processing_options_country: 0,
      data_processing_options_state: 0,
    });
  });
});
