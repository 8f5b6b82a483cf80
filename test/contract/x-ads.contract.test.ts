import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hmacSha1Signature, signatureBaseString } from '../../src/delivery/destinations/oauth1.js';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

const PIXEL = 'o8z6j';
const TWCLID = '23opevjt88psuo13lu8d020qkn';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const xAds = (over: Record<string, unknown> = {}) => ({
  type: 'x_ads',
  pixel_id: PIXEL,
  event_id: 'tw-o8z6j-o87ne',
  consumer_key: 'ck-contract',
  consumer_secret: 'cs-contract',
  access_token: '42-at-contract',
  access_token_secret: 'ts-contract',
  ...over,
});

const webPurchase = (id: string) =>
  purchase(id, {
    user: { ip: '127.0.0.1', user_agent: UA, email: 'Person@Example.com', twclid: TWCLID },
    properties: { value: 49.9, currency: 'EUR', content_ids: ['sku1'] },
  });

const OK = { status: 200, body: { data: { conversions_processed: 1, debug_id: 'dbg' } } };

/** The OAuth header's parameters, decoded. */
function oauthParams(header: string): Record<string, string> {
  return Object.fromEntries(
    header
      .replace(/^OAuth /, '')
      .split(', ')
      .map((p) => p.split('=').map((s) => decodeURIComponent(s.replace(/^"|"$/g, '')))),
  );
}

async function onlyDelivery(base: string, status: string) {
  const [row] = await waitFor(async () => {
    const d = (await admin(base, `/api/deliveries?status=${status}`)).body.deliveries;
    return d.length ? d : null;
  });
  return (await admin(base, `/api/deliveries/${row.id}`)).body;
}

describe('x conversions destination contract', () => {
  it('XC01 the request matches the documented schema and is OAuth 1.0a signed', async () => {
    rig = await destinationRig(xAds(), () => OK);
    await rig.impression('IMP-X1');
    await rig.send([webPurchase('ord-x1')]);
    const [req] = await rig.received(1);
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/12/measurement/conversions/${PIXEL}`);
    const body = JSON.parse(req.body);
    expect(schemaErrors('x_ads', body)).toEqual([]);
    expect(body.conversions[0]).toMatchObject({
      event_id: 'tw-o8z6j-o87ne',
      conversion_id: 'ord-x1',
      identifiers: [
        { twclid: TWCLID },
        { hashed_email: sha('person@example.com') },
        { ip_address: '127.0.0.1', user_agent: UA },
      ],
      value: 49.9,
      price_currency: 'EUR',
      number_items: 1,
    });
    // The receiver checks the signature as X does: same base string, same two secrets.
    const { oauth_signature, ...signed } = oauthParams(String(req.headers.authorization));
    expect(signed.oauth_consumer_key).toBe('ck-contract');
    expect(signed.oauth_token).toBe('42-at-contract');
    const base = signatureBaseString(
      { method: 'POST', url: `${rig.platform.url}${req.url}` },
      Object.entries(signed),
    );
    expect(oauth_signature).toBe(hmacSha1Signature(base, 'cs-contract', 'ts-contract'));
    await onlyDelivery(rig.base, 'delivered');
  });

  it('XC02 the schema catches a Unix-seconds time and a conversion with only an IP', () => {
    const errors = schemaErrors('x_ads', {
      conversions: [
        { conversion_time: 1763900000, event_id: 'o87ne', identifiers: [{ twclid: TWCLID }] },
        {
          conversion_time: '2025-11-23T12:13:20.000Z',
          event_id: 'o87ne',
          identifiers: [{ ip_address: '203.0.113.9' }],
        },
      ],
    });
    expect(errors.some((e) => e.startsWith('/conversions/0/conversion_time'))).toBe(true);
    expect(errors.some((e) => e.startsWith('/conversions/1/identifiers'))).toBe(true);
  });

  it("XC03 a 400 fails the conversion once with X's words and is not retried", async () => {
    rig = await destinationRig(xAds(), () => ({
      status: 400,
      body: { errors: [{ code: 'INVALID_PARAMETER', message: 'Event ID was not found' }] },
    }));
    await rig.impression('IMP-X3');
    await rig.send([webPurchase('ord-x3')]);
    const failed = await onlyDelivery(rig.base, 'failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0].error).toBe(
      'conversions refused by X: INVALID_PARAMETER: Event ID was not found',
    );
    expect(rig.platform.got).toHaveLength(1);
  });

  it('XC04 a 503 is retried, signed afresh, with the same conversion_id', async () => {
    rig = await destinationRig(xAds(), (_r, n) => (n === 1 ? { status: 503, body: {} } : OK));
    await rig.impression('IMP-X4');
    await rig.send([webPurchase('ord-x4')]);
    const [a, b] = await rig.received(2);
    expect(JSON.parse(b.body).conversions[0].conversion_id).toBe('ord-x4');
    expect(JSON.parse(a.body).conversions[0].conversion_id).toBe('ord-x4');
    const nonce = (h: unknown) => oauthParams(String(h)).oauth_nonce;
    expect(nonce(b.headers.authorization)).not.toBe(nonce(a.headers.authorization));
    await onlyDelivery(rig.base, 'delivered');
  });

  it('XC05 a 401 pauses the destination; the secrets stay masked', async () => {
    rig = await destinationRig(xAds(), () => ({
      status: 401,
      body: {
        errors: [
          { code: 'UNAUTHORIZED_ACCESS', message: 'This request is not properly authenticated' },
        ],
      },
    }));
    await rig.impression('IMP-X5');
    await rig.send([webPurchase('ord-x5')]);
    const dest = await waitFor(async () => {
      const d = (await admin(rig!.base, '/api/environments')).body.environments[0].destinations[0];
      return d.paused ? d : null;
    });
    expect(dest.paused_reason).toBe(
      'OAuth credentials refused: UNAUTHORIZED_ACCESS: This request is not properly authenticated',
    );
    expect(dest.settings).toMatchObject({
      consumer_key: 'ck-contract',
      consumer_secret: '****',
      access_token: '****',
      access_token_secret: '****',
    });
  });
});
