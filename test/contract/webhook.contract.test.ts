import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { purchase } from '../helpers/pixeltrail.js';
import { type DestinationRig, destinationRig, schemaErrors } from './harness.js';

let rig: DestinationRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('webhook destination contract', () => {
  it('WH01 the body matches the documented schema and the signature verifies', async () => {
    rig = await destinationRig((url) => ({ type: 'webhook', url: `${url}/hook`, secret: 'k' }));
    await rig.impression('IMP-WH1');
    await rig.send([purchase('ord-wh1')]);
    const [req] = await rig.received(1);
    expect(schemaErrors('webhook', JSON.parse(req.body))).toEqual([]);
    expect(req.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'k').update(req.body).digest('hex')}`,
    );
  });

  it('WH02 the schema catches a wrong body (the check can fail)', () => {
    expect(schemaErrors('webhook', { conversion_id: 'x', currency: 'euro' })).not.toEqual([]);
  });
});
