import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const ADS = {
  type: 'google_ads',
  customer_id: '123-456-7890',
  conversion_action: '987654321',
  developer_token: 'dev-token-1',
  access_token: 'ya29.contract-token',
  login_customer_id: '111-222-3333',
};

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

/** A purchase by the test browser with a Google click id. */
const withGclid = (id: string, gclid: string, extra: Record<string, unknown> = {}) =>
  purchase(id, { user: { ip: '127.0.0.1', user_agent: UA, gclid, ...extra } });

/** A GoogleAdsFailure as the REST API nests it in a google.rpc.Status. */
const failure = (errors: unknown[]) => ({
  '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure',
  errors,
  requestId: 'q1w2e3r4t5y6',
});

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
    conversion_id: string;
  }>;
}

describe('google_ads destination contract', () => {
  it('AD01 the upload matches the documented request; gclid and hashed email arrive', async () => {
    rig = await destinationRig(ADS, () => ({
      status: 200,
      body: { results: [{ gclid: 'Cj0KCQ-contract' }], jobId: '42' },
    }));
    await rig.impression('IMP-AD1');
    await rig.send([withGclid('ord-ad1', 'Cj0KCQ-contract', { email: ' TEST@example.com' })]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('google_ads', req)).toEqual([]);
    expect(req.path).toBe('/v26/customers/1234567890:uploadClickConversions');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer ya29.contract-token',
      'developer-token': 'dev-token-1',
      'login-customer-id': '1112223333',
    });
    expect(req.body).toMatchObject({ partialFailure: true, validateOnly: false });
    expect(req.body.conversions[0]).toMatchObject({
      gclid: 'Cj0KCQ-contract',
      conversionAction: 'customers/1234567890/conversionActions/987654321',
      conversionValue: 49.9,
      currencyCode: 'EUR',
      orderId: 'ord-ad1',
      userIdentifiers: [{ hashedEmail: EMAIL_SHA }],
    });
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('AD02 partialFailureError fails the rows it names; the others are delivered', async () => {
    let failedOrder = '';
    rig = await destinationRig({ ...ADS, batch: { size: 100, max_wait: '400ms' } }, (r) => {
      const conversions = JSON.parse(r.body).conversions as Array<{ orderId: string }>;
      failedOrder = conversions[1].orderId;
      return {
        status: 200,
        body: {
          partialFailureError: {
            code: 3,
            message: 'The imported gclid could not be decoded., at conversions[1].gclid',
            details: [
              failure([
                {
                  errorCode: { conversionUploadError: 'UNPARSEABLE_GCLID' },
                  message: 'The imported gclid could not be decoded.',
                  location: {
                    fieldPathElements: [
                      { fieldName: 'conversions', index: 1 },
                      { fieldName: 'gclid' },
                    ],
                  },
                },
              ]),
            ],
          },
          results: [{ gclid: 'g1' }, {}, { gclid: 'g3' }],
          jobId: '43',
        },
      };
    });
    await rig.impression('IMP-AD2');
    await rig.send([withGclid('ord-a', 'g1'), withGclid('ord-b', 'g2'), withGclid('ord-c', 'g3')]);
    const [got] = await rig.received(1);
    expect(JSON.parse(got.body).conversions).toHaveLength(3);
    expect(schemaErrors('google_ads', request(got))).toEqual([]);
    const rows = (await waitFor(async () => {
      const d = await deliveries(rig!.base);
      return d.length === 3 && d.every((x) => x.status !== 'pending') ? d : null;
    }))!;
    const conversions = (await admin(rig.base, '/api/conversions')).body.conversions as Array<{
      conversion_id: string;
      event_id: string;
    }>;
    const byOrder = (id: string) =>
      rows.find(
        (r) => r.conversion_id === conversions.find((c) => c.event_id === id)!.conversion_id,
      )!;
    const failed = byOrder(failedOrder);
    expect(failed.status).toBe('failed');
    expect(rows.filter((r) => r.status === 'delivered')).toHaveLength(2);
    const { attempts } = (await admin(rig.base, `/api/deliveries/${failed.id}`)).body;
    expect(attempts[0].error).toMatch(/UNPARSEABLE_GCLID: The imported gclid could not be decoded/);
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('AD03 401 UNAUTHENTICATED pauses the destination and is not retried', async () => {
    rig = await destinationRig(ADS, () => ({
      status: 401,
      body: {
        error: {
          code: 401,
          message:
            'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          status: 'UNAUTHENTICATED',
          details: [
            failure([
              {
                errorCode: { authenticationError: 'OAUTH_TOKEN_INVALID' },
                message: 'Oauth token in the header is not valid.',
              },
            ]),
          ],
        },
      },
    }));
    await rig.impression('IMP-AD3');
    await rig.send([withGclid('ord-ad3', 'g-ad3')]);
    await rig.received(1);
    await waitFor(
      async () =>
        (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0].paused,
    );
    const env = (await admin(rig.base, '/api/environments')).body.environments[0];
    expect(env.destinations[0].paused_reason).toMatch(/UNAUTHENTICATED/);
    expect(env.destinations[0].settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('AD04 429 RESOURCE_EXHAUSTED waits quotaErrorDetails.retryDelay, then succeeds', async () => {
    rig = await destinationRig(ADS, (_r, n) =>
      n === 1
        ? {
            status: 429,
            body: {
              error: {
                code: 429,
                message: 'Resource has been exhausted (e.g. check quota).',
                status: 'RESOURCE_EXHAUSTED',
                details: [
                  failure([
                    {
                      errorCode: { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' },
                      message: 'Too many requests. Retry in 1 seconds.',
                      details: { quotaErrorDetails: { rateScope: 'DEVELOPER', retryDelay: '1s' } },
                    },
                  ]),
                ],
              },
            },
          }
        : { status: 200, body: { results: [{ gclid: 'g-ad4' }] } },
    );
    await rig.impression('IMP-AD4');
    await rig.send([withGclid('ord-ad4', 'g-ad4')]);
    const [first, second] = await rig.received(2);
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(second.body).toBe(first.body);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('AD05 400 INVALID_ARGUMENT is dropped without retry', async () => {
    rig = await destinationRig(ADS, () => ({
      status: 400,
      body: {
        error: {
          code: 400,
          message: 'Request contains an invalid argument.',
          status: 'INVALID_ARGUMENT',
          details: [
            failure([
              {
                errorCode: { conversionUploadError: 'NO_CONVERSION_ACTION_FOUND' },
                message: 'The conversion action specified in the upload request cannot be found.',
              },
            ]),
          ],
        },
      },
    }));
    await rig.impression('IMP-AD5');
    await rig.send([withGclid('ord-ad5', 'g-ad5')]);
    await rig.received(1);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toMatch(/INVALID_ARGUMENT/);
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('AD06 a conversion with no click id and no email is refused with the reason', async () => {
    rig = await destinationRig(ADS, () => 200);
    await rig.impression('IMP-AD6');
    await rig.send([purchase('ord-ad6')]);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toMatch(/no gclid, gbraid or wbraid and no hashed email/);
    expect(rig.platform.got).toHaveLength(0);
  });

  it('AD07 test mode sends validateOnly', async () => {
    rig = await destinationRig({ ...ADS, test_mode: true }, () => ({ status: 200, body: {} }));
    await rig.impression('IMP-AD7');
    await rig.send([withGclid('ord-ad7', 'g-ad7')]);
    const [got] = await rig.received(1);
    expect(JSON.parse(got.body).validateOnly).toBe(true);
  });

  it('AD08 the schema catches a wrong request (the check can fail)', () => {
    const bad = {
      method: 'POST',
      path: '/v26/customers/123-456-7890:uploadClickConversions',
      headers: { 'content-type': 'application/json', authorization: 'token' },
      body: {
        conversions: [
          {
            gclid: 'a',
            wbraid: 'b',
            conversionAction: '987654321',
            conversionDateTime: '2025-11-23T12:13:20Z',
          },
        ],
        partialFailure: false,
      },
    };
    const errors = schemaErrors('google_ads', bad).join('\n');
    for (const what of [
      'path',
      'authorization',
      'developer-token',
      'conversionDateTime',
      'partialFailure',
    ])
      expect(errors).toMatch(what);
    expect(errors).toMatch(/must NOT be valid/);
  });
});
