import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const EPIK =
  'dj0yJnU9b2JDcFFHekV4SHJNcmVrbFBkUEdqakh0akdUT1VjVVUmcD0yJm49cnNBQ3F2Q2dOVDBXWWhkWklrUGxBUSZ0PUFBQUFBR1BaY3Bv';
const PINTEREST = {
  type: 'pinterest',
  ad_account_id: '549755885175',
  access_token: 'pina_contract_token',
};
const processed = { status: 'processed', error_message: null, warning_message: null };

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

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

/** A purchase by the test browser, clicked from a Pin (`_epik`). */
const fromPin = (id: string, extra: Record<string, unknown> = {}) =>
  purchase(id, {
    user: { ip: '127.0.0.1', user_agent: UA, email: 'Test@Example.com ', epik: EPIK, ...extra },
    properties: { value: 72.39, currency: 'USD', content_ids: ['sku-1', 'sku-2'] },
  });

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
    conversion_id: string;
  }>;
}

describe('pinterest destination contract', () => {
  it('PNC01 the request matches the documented schema; epik click id and hashed email arrive', async () => {
    rig = await destinationRig(PINTEREST, () => ({
      status: 200,
      body: { num_events_received: 1, num_events_processed: 1, events: [processed] },
    }));
    await rig.impression('IMP-PN1');
    await rig.send([fromPin('ord-pn1')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('pinterest', req)).toEqual([]);
    expect(req.path).toBe('/v5/ad_accounts/549755885175/events');
    expect(req.query).toEqual({});
    expect(req.headers.authorization).toBe('Bearer pina_contract_token');
    expect(req.body.data[0]).toMatchObject({
      event_name: 'checkout',
      action_source: 'web',
      event_id: 'ord-pn1',
      user_data: {
        em: [EMAIL_SHA],
        client_ip_address: '127.0.0.1',
        client_user_agent: UA,
        click_id: EPIK,
      },
      custom_data: { value: '72.39', currency: 'USD', content_ids: ['sku-1', 'sku-2'] },
    });
    expect(got.body).not.toMatch(/test@example\.com/i);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('PNC02 test mode asks for ?test=true', async () => {
    rig = await destinationRig({ ...PINTEREST, test_mode: true }, () => ({
      status: 200,
      body: { num_events_received: 1, num_events_processed: 1, events: [processed] },
    }));
    await rig.impression('IMP-PN2');
    await rig.send([fromPin('ord-pn2')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(req.query).toEqual({ test: 'true' });
    expect(schemaErrors('pinterest', req)).toEqual([]);
  });

  // 422 answers a DetailedError `{code, message, details}`; its code number is not documented,
  // the one used here is illustrative.
  it('PNC03 a 422 fails only the events[] rows marked failed; no retry', async () => {
    let failedId = '';
    rig = await destinationRig({ ...PINTEREST, batch: { size: 100, max_wait: '400ms' } }, (r) => {
      const data = JSON.parse(r.body).data as Array<{ event_id: string }>;
      failedId = data[1].event_id;
      return {
        status: 422,
        body: {
          code: 4217,
          message: 'Not all events were successfully processed.',
          details: {
            num_events_received: 2,
            num_events_processed: 1,
            events: [
              processed,
              {
                status: 'failed',
                error_message: 'Invalid email hash: not a SHA-256 hex digest.',
                warning_message: null,
              },
            ],
          },
        },
      };
    });
    await rig.impression('IMP-PN3');
    await rig.send([fromPin('ord-pn3a'), fromPin('ord-pn3b')]);
    const [got] = await rig.received(1);
    expect(JSON.parse(got.body).data).toHaveLength(2);
    const rows = (await waitFor(async () => {
      const d = await deliveries(rig!.base);
      return d.length === 2 && d.every((x) => x.status !== 'pending') ? d : null;
    }))!;
    const conversions = (await admin(rig.base, '/api/conversions')).body.conversions as Array<{
      conversion_id: string;
      event_id: string;
    }>;
    const failedConversion = conversions.find((c) => c.event_id === failedId)!.conversion_id;
    const failed = rows.find((r) => r.conversion_id === failedConversion)!;
    expect(failed.status).toBe('failed');
    expect(rows.find((r) => r !== failed)!.status).toBe('delivered');
    const { attempts } = (await admin(rig.base, `/api/deliveries/${failed.id}`)).body;
    expect(attempts[0].error).toBe('event refused: Invalid email hash: not a SHA-256 hex digest.');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('PNC04 401 code 2 (authentication failed) pauses the destination, no retry', async () => {
    rig = await destinationRig(PINTEREST, () => ({
      status: 401,
      body: { code: 2, message: 'Authentication failed.' },
    }));
    await rig.impression('IMP-PN4');
    await rig.send([fromPin('ord-pn4')]);
    await rig.received(1);
    const env = await waitFor(async () => {
      const e = (await admin(rig!.base, '/api/environments')).body.environments[0];
      return e.destinations[0].paused ? e : null;
    });
    expect(env.destinations[0].paused_reason).toMatch(/access token refused: HTTP 401 code 2/);
    expect(env.destinations[0].settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('PNC05 429 code 8 waits Retry-After, then succeeds with the same event_id', async () => {
    rig = await destinationRig(PINTEREST, (_r, n) =>
      n === 1
        ? {
            status: 429,
            headers: { 'retry-after': '1' },
            body: { code: 8, message: 'This request exceeded a rate limit.' },
          }
        : {
            status: 200,
            body: { num_events_received: 1, num_events_processed: 1, events: [processed] },
          },
    );
    await rig.impression('IMP-PN5');
    await rig.send([fromPin('ord-pn5')]);
    const [first, second] = await rig.received(2);
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(second.body).toBe(first.body);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('PNC06 400 code 4196 (invalid request) is dropped without retry', async () => {
    rig = await destinationRig(PINTEREST, () => ({
      status: 400,
      body: { code: 4196, message: 'The request was invalid.' },
    }));
    await rig.impression('IMP-PN6');
    await rig.send([fromPin('ord-pn6')]);
    await rig.received(1);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toBe('HTTP 400 code 4196: The request was invalid.');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('PNC07 the schema catches a wrong request (the check can fail)', () => {
    const bad = {
      method: 'POST',
      path: '/v5/ad_accounts/act_549755885175/events',
      query: { test: 'yes' },
      headers: { 'content-type': 'application/json' },
      body: {
        data: [
          {
            event_name: 'checkout',
            action_source: 'website',
            event_time: 1_763_900_000,
            user_data: { em: 'test@example.com' },
            custom_data: { value: 72.39 },
          },
        ],
      },
    };
    const errors = schemaErrors('pinterest', bad).join('\n');
    for (const what of [
      '/path',
      '/query/test',
      'authorization',
      'event_id',
      'action_source',
      '/user_data/em',
      '/custom_data/value',
    ])
      expect(errors).toMatch(what);
  });
});
