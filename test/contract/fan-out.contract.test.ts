import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { deliveriesSettled } from '../helpers/settled.js';
import { schemaErrors } from './harness.js';

let platform: Receiver;

/** A received request as the platform schemas describe it. */
const envelope = (r: Receiver['got'][number]) => ({
  method: r.method,
  path: new URL(r.url, 'http://x').pathname,
  headers: r.headers,
  body: JSON.parse(r.body),
});
let server: Server;
let base: string;

beforeAll(async () => {
  platform = await startReceiver((rec) =>
    rec.url.startsWith('/open_api/') ? { status: 200, body: { code: 0, message: 'OK' } } : 200,
  );
  const common = { events: ['Purchase'], base_url: platform.url, retry: { base_delay: '100ms' } };
  const config = {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Fan-out shop',
        write_key: 'wk_t',
        allowed_origins: ['*'],
        destinations: [
          {
            id: 'hook',
            type: 'webhook',
            url: `${platform.url}/hook`,
            secret: 's3cret',
            events: ['Purchase'],
          },
          { id: 'fb', type: 'meta', pixel_id: '123456', access_token: 'meta-token', ...common },
          { id: 'tt', type: 'tiktok', pixel_code: 'CABC123', access_token: 'tt-token', ...common },
          {
            id: 'ga',
            type: 'ga4',
            measurement_id: 'G-TEST123',
            api_secret: 'ga-secret',
            ...common,
          },
          {
            id: 'dsp',
            type: 'postback',
            url: `${platform.url}/pb?imp={imp_id}&ev={event_name}&v={value}&cur={currency}`,
            events: ['Purchase'],
          },
        ],
      },
    ],
  };
  ({ server, base } = await startPixeltrail(config, tempDir()));
});
afterAll(async () => {
  await server.close();
  await platform.close();
});

describe('one purchase fans out to every destination', () => {
  it('F01 webhook, meta, tiktok, ga4 and postback each get exactly one correct request', async () => {
    for (const dest of ['hook', 'fb', 'tt', 'ga', 'dsp']) {
      await fetch(`${base}/i?env_id=env_t&dest_id=${dest}&imp_id=IMP-${dest}&campaign_id=c1`, {
        headers: { 'user-agent': UA },
      });
    }
    const r = await postEvents(base, [
      {
        event_name: 'Purchase',
        event_id: 'ord-fan-1',
        env_id: 'env_t',
        user: {
          email: 'test@example.com',
          ip: '127.0.0.1',
          user_agent: UA,
          anonymous_id: 'anon-fan',
        },
        properties: {
          value: 49.9,
          currency: 'EUR',
          content_ids: ['sku1'],
          url: 'https://shop.example/thanks',
        },
      },
    ]);
    expect(r.body.accepted).toBe(1);
    await waitFor(() => platform.got.length >= 5, 15_000);
    await deliveriesSettled(server);
    const by = (prefix: string) => platform.got.filter((g) => g.url.startsWith(prefix));
    const [hook] = by('/hook');
    const [meta] = by('/v21.0/123456/events');
    const [tiktok] = by('/open_api/v1.3/event/track/');
    const [ga] = by('/mp/collect');
    const [pb] = by('/pb');
    expect(platform.got).toHaveLength(5);
    expect([hook, meta, tiktok, ga, pb].every(Boolean)).toBe(true);

    expect(hook.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 's3cret').update(hook.body).digest('hex')}`,
    );
    expect(JSON.parse(hook.body).attribution.imp_id).toBe('IMP-hook');

    const metaBody = JSON.parse(meta.body);
    expect(schemaErrors('meta', metaBody)).toEqual([]);
    expect(schemaErrors('webhook', JSON.parse(hook.body))).toEqual([]);
    expect(schemaErrors('tiktok', envelope(tiktok))).toEqual([]);
    expect(
      schemaErrors('ga4', {
        ...envelope(ga),
        query: Object.fromEntries(new URL(ga.url, platform.url).searchParams),
      }),
    ).toEqual([]);
    expect(metaBody.data[0]).toMatchObject({
      event_name: 'Purchase',
      event_id: 'ord-fan-1',
      custom_data: { value: 49.9, currency: 'EUR' },
    });
    expect(metaBody.data[0].user_data.em).toContain(
      '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b',
    );

    const ttBody = JSON.parse(tiktok.body);
    expect(tiktok.headers['access-token']).toBe('tt-token');
    expect(ttBody.data[0]).toMatchObject({ event_id: 'ord-fan-1' });

    const gaBody = JSON.parse(ga.body);
    expect(ga.url).toContain('measurement_id=G-TEST123');
    expect(gaBody.events[0]).toMatchObject({
      name: 'purchase',
      params: { transaction_id: 'ord-fan-1', value: 49.9, currency: 'EUR' },
    });

    expect(new URL(pb.url, platform.url).searchParams.get('imp')).toBe('IMP-dsp');
    expect(new URL(pb.url, platform.url).searchParams.get('cur')).toBe('EUR');
  });
});
