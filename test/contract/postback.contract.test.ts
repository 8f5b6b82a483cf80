import { afterEach, describe, expect, it } from 'vitest';
import { admin, purchase, UA, waitFor } from '../helpers/pixeltrail.js';
import type { Received } from '../helpers/receiver.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

/** Every macro, each under its own name, as a partner's postback URL would carry them. */
const QUERY =
  'imp_id={imp_id}&click_id={click_id}&event_name={event_name}&event_id={event_id}' +
  '&value={value}&currency={currency}&conversion_id={conversion_id}&event_time={event_time}' +
  '&campaign_id={campaign_id}&creative_id={creative_id}&placement_id={placement_id}' +
  '&dest_id={dest_id}&env_id={env_id}';

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

function request(r: Received) {
  const url = new URL(r.url, 'http://x');
  const type = String(r.headers['content-type'] ?? '');
  let body: unknown = r.body;
  if (type.startsWith('application/json')) body = JSON.parse(r.body);
  else if (type.startsWith('application/x-www-form-urlencoded'))
    body = Object.fromEntries(new URLSearchParams(r.body));
  return {
    method: r.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: r.headers,
    body,
  };
}

/** A purchase that also carries another partner's impression id on the event itself. */
const purchaseWithForeignImp = (id: string) =>
  purchase(id, { user: { ip: '127.0.0.1', user_agent: UA, imp_id: 'OTHER-PARTNER-IMP' } });

async function deliveries(base: string) {
  return (await admin(base, '/api/deliveries')).body.deliveries as Array<{
    id: number;
    status: string;
  }>;
}

describe('postback destination contract', () => {
  it('PB01 GET fills the template; the DSP gets its own imp_id back', async () => {
    rig = await destinationRig((url) => ({ type: 'postback', url: `${url}/pb?${QUERY}` }));
    await rig.impression('IMP PB/1', '&creative_id=cr-9');
    await rig.send([purchaseWithForeignImp('ord-pb1')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('postback', req)).toEqual([]);
    expect(req.method).toBe('GET');
    expect(req.path).toBe('/pb');
    // Encoded on the wire, decoded here: the value survived the round trip.
    expect(got.url).toContain('imp_id=IMP%20PB%2F1&');
    expect(req.query).toMatchObject({
      imp_id: 'IMP PB/1',
      click_id: '',
      event_name: 'Purchase',
      event_id: 'ord-pb1',
      value: '49.9',
      currency: 'EUR',
      campaign_id: 'c1',
      creative_id: 'cr-9',
      placement_id: '',
      dest_id: 'dsp1',
      env_id: 'env_t',
    });
    expect(got.url).not.toContain('OTHER-PARTNER');
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('PB02 POST json sends the same values as JSON', async () => {
    rig = await destinationRig((url) => ({
      type: 'postback',
      url: `${url}/conv?imp={imp_id}`,
      method: 'POST',
      body: 'json',
    }));
    await rig.impression('IMP-PB2');
    await rig.send([purchase('ord-pb2')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('postback', req)).toEqual([]);
    expect(req.body).toMatchObject({ imp_id: 'IMP-PB2', click_id: null, value: 49.9 });
    expect(req.query).toEqual({ imp: 'IMP-PB2' });
  });

  it('PB03 POST form sends the same values form-encoded', async () => {
    rig = await destinationRig((url) => ({
      type: 'postback',
      url: `${url}/pb?${QUERY}`,
      method: 'POST',
    }));
    await rig.impression('IMP-PB3');
    await rig.send([purchase('ord-pb3')]);
    const [got] = await rig.received(1);
    const req = request(got);
    expect(schemaErrors('postback', req)).toEqual([]);
    expect(req.body).toEqual(req.query);
  });

  it('PB04 a 5xx is retried and the same postback is sent again', async () => {
    rig = await destinationRig(
      (url) => ({ type: 'postback', url: `${url}/pb?${QUERY}` }),
      (_r, n) => (n === 1 ? 502 : 200),
    );
    await rig.impression('IMP-PB4');
    await rig.send([purchase('ord-pb4')]);
    const [first, second] = await rig.received(2);
    expect(second.url).toBe(first.url);
    await waitFor(async () => (await deliveries(rig!.base))[0]?.status === 'delivered');
  });

  it('PB05 a 400 is not retried and the partner\u2019s answer is kept', async () => {
    rig = await destinationRig(
      (url) => ({ type: 'postback', url: `${url}/pb?${QUERY}` }),
      () => ({ status: 400, body: { error: 'unknown imp_id' } }),
    );
    await rig.impression('IMP-PB5');
    await rig.send([purchase('ord-pb5')]);
    await rig.received(1);
    const row = (await waitFor(async () =>
      (await deliveries(rig!.base)).find((d) => d.status === 'failed'),
    ))!;
    const { attempts } = (await admin(rig.base, `/api/deliveries/${row.id}`)).body;
    expect(attempts[0].response_excerpt).toMatch(/unknown imp_id/);
    await rig.settled();
    expect(rig.platform.got).toHaveLength(1);
  });

  it('PB06 the schema catches a wrong postback (the check can fail)', () => {
    const errors = schemaErrors('postback', {
      method: 'GET',
      query: { imp_id: '', click_id: '', event_name: 'Purchase', value: 'ten', event_time: 'now' },
      headers: {},
      body: '',
    }).join('\n');
    expect(errors).toMatch(/conversion_id/);
    expect(errors).toMatch(/value/);
    expect(errors).toMatch(/event_time/);
  });
});
