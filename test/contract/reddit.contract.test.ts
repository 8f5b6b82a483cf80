import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const TEST_EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const TOKEN = 'reddit-contract-token';
const RDT_CID = '3184742045291813272';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const reddit = (over: Record<string, unknown> = {}) => ({
  type: 'reddit',
  account_id: 'a2_contract',
  access_token: TOKEN,
  ...over,
});

const clickPurchase = (id: string, extra: Record<string, unknown> = {}) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: 'test@example.com',
      user_id: 'customer12345',
      rdt_cid: RDT_CID,
    },
    properties: { value: 49.9, currency: 'EUR', content_ids: ['sku1', 'sku2'] },
    ...extra,
  });

const OK = { status: 200, body: { message: 'Successfully processed 1 conversion events.' } };

async function deliveries(base: string, status: string, n = 1) {
  return waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length >= n ? d : null;
  });
}

describe('reddit destination contract', () => {
  it('RC01 the request matches the documented schema; hashes, click_id and conversion_id arrive', async () => {
    rig = await destinationRig(reddit(), () => OK);
    await rig.impression('IMP-RC1');
    await rig.send([clickPurchase('ord-rc1')]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v2.0/conversions/events/a2_contract');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['user-agent']).toMatch(/^pixeltrail-reddit\//);
    const body = JSON.parse(req.body);
    expect(schemaErrors('reddit', body)).toEqual([]);
    expect(body.test_mode).toBe(false);
    expect(body.events[0]).toMatchObject({
      event_type: { tracking_type: 'Purchase' },
      click_id: RDT_CID,
      event_metadata: {
        conversion_id: 'ord-rc1',
        value_decimal: 49.9,
        currency: 'EUR',
        item_count: 2,
      },
      user: {
        email: TEST_EMAIL_SHA,
        external_id: 'a4cc2fc5adf58a029291c1514d273989113a1d05e1d753c1d0c3a848af7109cc',
        ip_address: sha256('127.0.0.1'),
        user_agent: UA,
      },
    });
    expect(req.body).not.toContain('"127.0.0.1"');
    await deliveries(rig.base, 'delivered');
  });

  it('RC02 the schema catches a Custom event without its name and an unhashed email', () => {
    const errors = schemaErrors('reddit', {
      events: [
        {
          event_at: '2026-11-23T10:00:00.000Z',
          event_type: { tracking_type: 'Custom' },
          user: { email: 'test@example.com' },
        },
      ],
    });
    expect(errors.some((e) => e.startsWith('/events/0/event_type'))).toBe(true);
    expect(errors.some((e) => e.startsWith('/events/0/user/email'))).toBe(true);
  });

  it('RC03 test_mode sends test_mode: true', async () => {
    rig = await destinationRig(reddit({ test_mode: true }), () => OK);
    await rig.impression('IMP-RC3');
    await rig.send([clickPurchase('ord-rc3')]);
    const [req] = await rig.received(1);
    expect(JSON.parse(req.body).test_mode).toBe(true);
  });

  it('RC04 a 400 naming one invalid event drops it and re-sends the rest of the batch', async () => {
    rig = await destinationRig(reddit({ batch: { max_wait: '300ms' } }), (_r, n) =>
      n === 1
        ? {
            status: 400,
            body: {
              message: 'There were 1 invalid conversion events. None were processed.',
              invalid_events: [
                {
                  error_message: 'event_at timestamp must be less than 168h0m0s old',
                  event: { event_metadata: { conversion_id: 'ord-rc4b' } },
                },
              ],
            },
          }
        : OK,
    );
    await rig.impression('IMP-RC4');
    await rig.send([clickPurchase('ord-rc4a'), clickPurchase('ord-rc4b')]);
    const [first, second] = await rig.received(2);
    const ids = (r: { body: string }) =>
      JSON.parse(r.body).events.map((e: any) => e.event_metadata.conversion_id);
    expect(ids(first).sort()).toEqual(['ord-rc4a', 'ord-rc4b']);
    expect(ids(second)).toEqual(['ord-rc4a']);
    await deliveries(rig.base, 'delivered');
    const [failed] = await deliveries(rig.base, 'failed');
    const attempts = (await admin(rig.base, `/api/deliveries/${failed.id}`)).body.attempts;
    expect(attempts).toHaveLength(1);
    expect(attempts[0].error).toMatch(/^invalid event: .*must be less than 168h0m0s old$/);
  });

  it('RC05 a 429 is retried after Retry-After', async () => {
    rig = await destinationRig(reddit(), (_r, n) =>
      n === 1
        ? {
            status: 429,
            headers: { 'retry-after': '1' },
            body: 'Too many requests/events within timeframe.',
          }
        : OK,
    );
    await rig.impression('IMP-RC5');
    await rig.send([clickPurchase('ord-rc5')]);
    const [a, b] = await rig.received(2);
    expect(b.at - a.at).toBeGreaterThanOrEqual(950);
  });

  it('RC06 a 401 UNAUTHORIZED is not retried and pauses the destination', async () => {
    rig = await destinationRig(reddit(), () => ({
      status: 401,
      body: {
        success: false,
        error: {
          reason: 'UNAUTHORIZED',
          explanation:
            'This server could not verify that you are authorized to access the document you requested.',
        },
      },
    }));
    await rig.impression('IMP-RC6');
    await rig.send([clickPurchase('ord-rc6')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toMatch(/^access token refused: UNAUTHORIZED: /);
    expect(dest.settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });
});
