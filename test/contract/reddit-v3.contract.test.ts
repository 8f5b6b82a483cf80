import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/identity.js';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const TOKEN = 'reddit-v3-contract-token';
const RDT_CID = '3184742045291813272';
const PAGE = `https://shop.example/thanks?rdt_cid=${RDT_CID}`;

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** A new Reddit destination: a pixel id and a conversion token, nothing else. */
const reddit = (over: Record<string, unknown> = {}) => ({
  type: 'reddit',
  pixel_id: 'a2_pixel',
  access_token: TOKEN,
  ...over,
});

const clickPurchase = (id: string) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: 'test@example.com',
      user_id: 'customer12345',
      rdt_cid: RDT_CID,
    },
    properties: { value: 49.9, currency: 'EUR', content_ids: ['sku1', 'sku2'], url: PAGE },
  });

const OK = {
  status: 200,
  body: { data: { message: 'Successfully processed 1 conversion events.' } },
};

async function deliveries(base: string, status: string, n = 1) {
  return waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length >= n ? d : null;
  });
}

async function attemptsOf(base: string, status: string) {
  const [d] = await deliveries(base, status);
  return (await admin(base, `/api/deliveries/${d.id}`)).body.attempts;
}

describe('reddit destination contract, Conversions API v3', () => {
  it('RVC01 a pixel_id destination posts the documented v3 body with the Bearer token', async () => {
    rig = await destinationRig(reddit(), () => OK);
    await rig.impression('IMP-RVC1');
    await rig.send([clickPurchase('ord-rvc1')]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v3/pixels/a2_pixel/conversion_events');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^pixeltrail-reddit\//);
    const body = JSON.parse(req.body);
    expect(schemaErrors('reddit-v3', body)).toEqual([]);
    expect(body.data).not.toHaveProperty('test_id');
    const [event] = body.data.events;
    expect(event).toEqual({
      event_at: expect.any(Number),
      action_source: 'WEBSITE',
      event_source_url: PAGE,
      click_id: RDT_CID,
      type: { tracking_type: 'PURCHASE' },
      metadata: {
        conversion_id: 'ord-rvc1',
        value: 49.9,
        currency: 'EUR',
        item_count: 2,
        products: [{ id: 'sku1' }, { id: 'sku2' }],
      },
      user: {
        email: TEST_EMAIL_SHA,
        external_id: 'a4cc2fc5adf58a029291c1514d273989113a1d05e1d753c1d0c3a848af7109cc',
        ip_address: sha256Hex('127.0.0.1'),
        user_agent: UA,
      },
    });
    expect(Math.abs(event.event_at - Date.now())).toBeLessThan(60_000);
    expect(req.body).not.toContain('"127.0.0.1"');
    await deliveries(rig.base, 'delivered');
  });

  it('RVC02 the schema catches a v2-shaped event, a missing action_source and an unnamed CUSTOM', () => {
    const errors = schemaErrors('reddit-v3', {
      data: {
        events: [
          {
            event_at: '2026-11-23T10:00:00.000Z',
            event_type: { tracking_type: 'Purchase' },
            event_metadata: { value_decimal: 1 },
          },
          { event_at: 1_763_900_000_000, type: { tracking_type: 'CUSTOM' } },
        ],
      },
    });
    expect(errors).toContain('/data/events/0/event_at must be integer');
    expect(errors).toContain("/data/events/0 must have required property 'type'");
    expect(errors).toContain("/data/events/1 must have required property 'action_source'");
    expect(errors.some((e) => e.startsWith('/data/events/1/type'))).toBe(true);
    expect(schemaErrors('reddit-v3', { events: [] })).toContain(
      "/ must have required property 'data'",
    );
  });

  it('RVC03 test_mode sends data.test_id, one event a request', async () => {
    rig = await destinationRig(
      reddit({ test_mode: true, test_id: 't2_evtest', batch: { max_wait: '300ms' } }),
      () => OK,
    );
    await rig.impression('IMP-RVC3');
    await rig.send([clickPurchase('ord-rvc3a'), clickPurchase('ord-rvc3b')]);
    const got = await rig.received(2);
    const bodies = got.map((r) => JSON.parse(r.body));
    for (const b of bodies) {
      expect(schemaErrors('reddit-v3', b)).toEqual([]);
      expect(b.data.test_id).toBe('t2_evtest');
      expect(b.data.events).toHaveLength(1);
    }
    const ids = bodies.map((b) => b.data.events[0].metadata.conversion_id).sort();
    expect(ids).toEqual(['ord-rvc3a', 'ord-rvc3b']);
  });

  it('RVC04 a 400 is permanent: the conversion goes to dead-letter after one attempt', async () => {
    rig = await destinationRig(reddit(), () => ({
      status: 400,
      body: { error: { code: 400, message: 'invalid action_source: website' } },
    }));
    await rig.impression('IMP-RVC4');
    await rig.send([clickPurchase('ord-rvc4')]);
    const attempts = await attemptsOf(rig.base, 'failed');
    expect(attempts).toHaveLength(1);
    expect(attempts[0].error).toBe('events refused by Reddit: invalid action_source: website');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('RVC05 a 429 waits for Retry-After and a 503 is retried; both are then delivered', async () => {
    rig = await destinationRig(reddit(), (_r, n) =>
      n === 1
        ? {
            status: 429,
            headers: { 'retry-after': '1' },
            body: 'Too many requests/events within timeframe.',
          }
        : n === 2
          ? {
              status: 503,
              body: 'The service is currently unavailable. No conversion events were processed.',
            }
          : OK,
    );
    await rig.impression('IMP-RVC5');
    await rig.send([clickPurchase('ord-rvc5')]);
    const [a, b, c] = await rig.received(3);
    expect(b.at - a.at).toBeGreaterThanOrEqual(950);
    expect(JSON.parse(c.body)).toEqual(JSON.parse(a.body));
    expect(await attemptsOf(rig.base, 'delivered')).toHaveLength(3);
  });

  it('RVC06 a 403 for the pixel is not retried and pauses the destination', async () => {
    rig = await destinationRig(reddit(), () => ({
      status: 403,
      body: "You're not authorized to post conversions to Pixel ID a2_pixel.",
    }));
    await rig.impression('IMP-RVC6');
    await rig.send([clickPurchase('ord-rvc6')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toMatch(/^not authorized for this account: /);
    expect(dest.settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('RVC07 api_version v2 keeps an account_id destination on v2.0', async () => {
    rig = await destinationRig(
      { type: 'reddit', api_version: 'v2', account_id: 'a2_legacy', access_token: TOKEN },
      () => 200,
    );
    await rig.impression('IMP-RVC7');
    await rig.send([clickPurchase('ord-rvc7')]);
    const [req] = await rig.received(1);
    expect(req.url).toBe('/api/v2.0/conversions/events/a2_legacy');
    expect(schemaErrors('reddit', JSON.parse(req.body))).toEqual([]);
  });

  it('RVC08 the admin API refuses a v3 destination without pixel_id, naming the field', async () => {
    rig = await destinationRig(reddit(), () => OK);
    const res = await admin(rig.base, '/api/destinations', 'POST', {
      env_id: 'env_t',
      id: 'rd2',
      type: 'reddit',
      settings: { access_token: 'x', test_id: 't2_x' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      {
        index: null,
        field: 'settings.pixel_id',
        message: 'is required (Conversions API v3 posts to /api/v3/pixels/{pixel_id})',
      },
    ]);
  });
});
