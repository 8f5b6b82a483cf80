import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** SHA-256 of `test@example.com`, the published vector. */
const EMAIL_SHA = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b';
const URN = 'urn:lla:llaPartnerConversion:104012';
const LI_FAT_ID = 'df5gf5-gh6t7-ph4j7h-fgf6n1';
const LINKEDIN = {
  type: 'linkedin',
  conversion_urn: URN,
  access_token: 'AQV-contract-token',
  api_version: '202603',
};
const created = (n: number) => ({
  status: 200,
  body: { elements: Array.from({ length: n }, () => ({ status: 201 })) },
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

/** A purchase by the test browser, clicked from a LinkedIn ad (`li_fat_id`). */
const fromLinkedin = (id: string, user: Record<string, unknown> = {}) =>
  purchase(id, {
    user: {
      ip: '127.0.0.1',
      user_agent: UA,
      email: 'TEST@example.com',
      li_fat_id: LI_FAT_ID,
      ...user,
    },
    properties: { value: 1500, currency: 'USD' },
  });

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
    conversion_id: string;
  }>;
}

describe('linkedin destination contract', () => {
  it('LIC01 the batch matches the documented schema; li_fat_id and hashed email arrive', async () => {
    rig = await destinationRig(LINKEDIN, () => created(1));
    await rig.impression('IMP-LI1');
    await rig.send([fromLinkedin('ord-li1')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('linkedin', req)).toEqual([]);
    expect(req.headers).toMatchObject({
      authorization: 'Bearer AQV-contract-token',
      'linkedin-version': '202603',
      'x-restli-protocol-version': '2.0.0',
      'x-restli-method': 'BATCH_CREATE',
    });
    const [el] = req.body.elements;
    expect(el).toMatchObject({
      conversion: URN,
      conversionValue: { currencyCode: 'USD', amount: '1500' },
      eventId: 'ord-li1',
      user: {
        userIds: [
          { idType: 'SHA256_EMAIL', idValue: EMAIL_SHA },
          { idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: LI_FAT_ID },
        ],
      },
    });
    expect(String(el.conversionHappenedAt)).toMatch(/^[0-9]{13}$/);
    expect(got.body).not.toMatch(/test@example\.com|127\.0\.0\.1/i);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('LIC07 userInfo: first and last name and the country code in clear, valid against the schema', async () => {
    rig = await destinationRig(LINKEDIN, () => created(1));
    await rig.impression('IMP-LI7');
    await rig.send([
      fromLinkedin('ord-li7', {
        first_name: ' Mike ',
        last_name: 'Smith',
        country: 'United States',
        city: 'Sunnyvale',
        zip: '94085',
      }),
    ]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('linkedin', req)).toEqual([]);
    expect(req.body.elements[0].user.userInfo).toEqual({
      firstName: 'Mike',
      lastName: 'Smith',
      countryCode: 'US',
    });
    // LinkedIn takes no city or zip: they are not sent.
    expect(got.body).not.toMatch(/Sunnyvale|94085/);
  });

  it('LIC02 a conversion with no LinkedIn user id is refused with the reason, nothing sent', async () => {
    rig = await destinationRig(LINKEDIN, () => created(1));
    await rig.impression('IMP-LI2');
    await rig.send([purchase('ord-li2')]);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].error).toBe(
      'no user id LinkedIn accepts: needs a hashed email or the li_fat_id click cookie',
    );
    expect(rig.platform.got).toHaveLength(0);
  });

  it('LIC03 a 422 naming one element drops it; the other is sent again and delivered', async () => {
    let refusedId = '';
    rig = await destinationRig({ ...LINKEDIN, batch: { size: 100, max_wait: '400ms' } }, (r, n) => {
      const elements = JSON.parse(r.body).elements as Array<{ eventId: string }>;
      if (n > 1) return created(elements.length);
      refusedId = elements[1].eventId;
      return {
        status: 422,
        body: {
          status: 422,
          message:
            'Index: 1, ERROR :: /user/userIds/0/idValue :: Invalid SHA256 email hash value\n',
        },
      };
    });
    await rig.impression('IMP-LI3');
    await rig.send([fromLinkedin('ord-li3a'), fromLinkedin('ord-li3b')]);
    const [first, second] = await rig.received(2);
    expect(JSON.parse(first.body).elements).toHaveLength(2);
    const resent = JSON.parse(second.body).elements;
    expect(resent).toHaveLength(1);
    expect(resent[0].eventId).not.toBe(refusedId);
    expect(schemaErrors('linkedin', request(second))).toEqual([]);
    const rows = (await waitFor(async () => {
      const d = await deliveries(rig!.base);
      return d.length === 2 && d.every((x) => x.status !== 'pending') ? d : null;
    }))!;
    expect(rows.map((r) => r.status).sort()).toEqual(['delivered', 'failed']);
    const failed = rows.find((r) => r.status === 'failed')!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${failed.id}`)).body;
    expect(attempts[0].error).toMatch(/^LinkedIn refused the event: \/user\/userIds\/0\/idValue/);
  });

  it('LIC04 401 REVOKED_ACCESS_TOKEN pauses the destination, no retry', async () => {
    rig = await destinationRig(LINKEDIN, () => ({
      status: 401,
      body: {
        status: 401,
        serviceErrorCode: 65601,
        code: 'REVOKED_ACCESS_TOKEN',
        message: 'The token used in the request has been revoked by the user',
      },
    }));
    await rig.impression('IMP-LI4');
    await rig.send([fromLinkedin('ord-li4')]);
    await rig.received(1);
    const env = await waitFor(async () => {
      const e = (await admin(rig!.base, '/api/environments')).body.environments[0];
      return e.destinations[0].paused ? e : null;
    });
    expect(env.destinations[0].paused_reason).toMatch(/access token refused: HTTP 401 \(REVOKED/);
    expect(env.destinations[0].settings.access_token).toBe('****');
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('LIC05 429 waits Retry-After, then succeeds with the same eventId', async () => {
    rig = await destinationRig(LINKEDIN, (_r, n) =>
      n === 1
        ? {
            status: 429,
            headers: { 'retry-after': '1' },
            body: { status: 429, message: 'Resource level throttle limit reached' },
          }
        : created(1),
    );
    await rig.impression('IMP-LI5');
    await rig.send([fromLinkedin('ord-li5')]);
    const [first, second] = await rig.received(2);
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(second.body).toBe(first.body);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('LIC06 the schema catches a wrong request (the check can fail)', () => {
    const bad = {
      method: 'POST',
      path: '/v2/conversionEvents',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: {
        elements: [
          {
            conversion: '104012',
            conversionHappenedAt: 1_763_900_000,
            conversionValue: { currencyCode: 'USD', amount: 1500 },
            user: { userIds: [{ idType: 'SHA256_EMAIL', idValue: 'test@example.com' }] },
          },
        ],
      },
    };
    const errors = schemaErrors('linkedin', bad).join('\n');
    for (const what of [
      '/path',
      'linkedin-version',
      'x-restli-protocol-version',
      'x-restli-method',
      '/conversion ',
      '/conversionHappenedAt',
      '/conversionValue/amount',
      '/idValue',
    ])
      expect(errors).toMatch(what);
  });
});
