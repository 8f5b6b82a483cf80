import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { admin, postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Received, type Receiver, startReceiver } from '../helpers/receiver.js';

// Issue 20 §2: testing never touches production. Test sends and events carrying a test code go
// to each platform's test or validation channel; where a platform has none, a test send asks
// for confirmation and a test event is not sent at all.

let running: Array<{ server: Server; platform: Receiver }> = [];
afterEach(async () => {
  for (const r of running) {
    await r.server.close();
    await r.platform.close();
  }
  running = [];
});

/** One stand-in for every platform, answering each the way its API does. */
function answer(rec: Received) {
  if (rec.url.includes('uploadClickConversions')) return { status: 200, body: {} };
  if (rec.url.startsWith('/debug/mp/collect'))
    return { status: 200, body: { validationMessages: [] } };
  if (rec.url.includes('/events')) return { status: 200, body: { events_received: 1 } };
  return { status: 200, body: { ok: true } };
}

async function start() {
  const platform = await startReceiver(answer);
  const common = { base_url: platform.url, attributed_only: false, timeout: '2s' };
  const { server, base } = await startPixeltrail(
    {
      admin_token: 'adm',
      log_level: 'silent',
      environments: [
        {
          id: 'env_t',
          name: 'Test channels',
          write_key: 'wk_t',
          destinations: [
            { id: 'fb', type: 'meta', pixel_id: '111', access_token: 'EAAB-t', ...common },
            {
              id: 'fb-coded',
              type: 'meta',
              pixel_id: '222',
              access_token: 'EAAB-t',
              test_event_code: 'TEST77',
              ...common,
            },
            {
              id: 'gads',
              type: 'google_ads',
              customer_id: '123-456-7890',
              conversion_action: '987654',
              developer_token: 'dev',
              access_token: 'ya29.t',
              ...common,
            },
            { id: 'ga', type: 'ga4', measurement_id: 'G-TEST1', api_secret: 'sec', ...common },
            { id: 'hook', type: 'webhook', url: `${platform.url}/hook`, secret: 's', ...common },
          ],
        },
      ],
    },
    tempDir(),
  );
  running.push({ server, platform });
  return { server, base, platform };
}

const sentTo = (platform: Receiver, part: string) =>
  platform.got.filter((g) => g.url.includes(part));

describe('test channels (issue 20 §2)', () => {
  it('TC01 "send test conversion" uses each platform\'s test channel; one without asks for confirm=real', async () => {
    const { base, platform } = await start();
    const test = (dest: string, q = '') =>
      admin(base, `/api/destinations/env_t/${dest}/test${q}`, 'POST');

    const gads = await test('gads');
    expect(gads.body).toMatchObject({
      channel: { kind: 'test', name: expect.stringMatching(/validateOnly/) },
      real_conversion_recorded: false,
    });
    expect(JSON.parse(sentTo(platform, 'uploadClickConversions')[0].body).validateOnly).toBe(true);

    const ga = await test('ga');
    expect(ga.body.channel.kind).toBe('test');
    expect(sentTo(platform, '/mp/collect').map((g) => g.url.split('?')[0])).toEqual([
      '/debug/mp/collect',
    ]);

    const coded = await test('fb-coded');
    expect(coded.body.note).toMatch(/no real conversion was recorded/);
    expect(JSON.parse(sentTo(platform, '/222/events')[0].body).test_event_code).toBe('TEST77');

    // Meta without a test code has no test channel: nothing leaves until confirmed.
    const unconfirmed = await test('fb');
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.body.error).toMatchObject({ code: 'confirmation_required' });
    expect(sentTo(platform, '/111/events')).toHaveLength(0);
    const real = await test('fb', '?confirm=real');
    expect(real.body).toMatchObject({ channel: { kind: 'live' }, real_conversion_recorded: true });
    expect(real.body.note).toMatch(/a real conversion was recorded/);
    expect(JSON.parse(sentTo(platform, '/111/events')[0].body)).not.toHaveProperty(
      'test_event_code',
    );
  });

  it('TC02 an event carrying test_event_code goes only to test channels, in requests of its own; production events never carry the code', async () => {
    const { server, base, platform } = await start();
    const user = { email: 'a@example.com', ip: '203.0.113.9', user_agent: UA, gclid: 'Cj0-g' };
    const props = { value: 10, currency: 'EUR', url: 'https://shop.example/thanks' };
    const r = await postEvents(base, [
      { event_name: 'Purchase', event_id: 'ord-real', user, properties: props },
      {
        event_name: 'Purchase',
        event_id: 'ord-test',
        test_event_code: 'TEST99',
        user,
        properties: props,
      },
    ]);
    expect(r.body.accepted).toBe(2);
    const deliveries = async () =>
      (await admin(base, '/api/deliveries?env_id=env_t')).body.deliveries as Array<{
        dest_id: string;
        conversion_id: string;
        status: string;
      }>;
    // ord-real: five rows; ord-test: every platform with a test channel, the webhook none.
    await waitFor(async () => {
      const d = await deliveries();
      return d.length === 9 && d.every((x) => x.status === 'delivered');
    });
    const byEvent = (g: Received) => JSON.parse(g.body).data?.map((e: any) => e.event_id);
    const meta = sentTo(platform, '/111/events').map((g) => ({
      ids: byEvent(g),
      code: JSON.parse(g.body).test_event_code,
    }));
    expect(meta).toContainEqual({ ids: ['ord-test'], code: 'TEST99' });
    expect(meta).toContainEqual({ ids: ['ord-real'], code: undefined });
    // The destination's own code wins over the event's: it is known to be this platform's.
    const coded = sentTo(platform, '/222/events').map((g) => JSON.parse(g.body));
    expect(coded.find((b) => b.data[0].event_id === 'ord-test')?.test_event_code).toBe('TEST77');
    expect(coded.find((b) => b.data[0].event_id === 'ord-real')).not.toHaveProperty(
      'test_event_code',
    );
    const uploads = sentTo(platform, 'uploadClickConversions').map((g) => JSON.parse(g.body));
    expect(uploads.find((b) => b.conversions[0].orderId === 'ord-test')?.validateOnly).toBe(true);
    expect(uploads.find((b) => b.conversions[0].orderId === 'ord-real')?.validateOnly).toBe(false);
    expect(
      sentTo(platform, '/mp/collect')
        .map((g) => g.url.split('?')[0])
        .sort(),
    ).toEqual(['/debug/mp/collect', '/mp/collect']);
    const hooks = sentTo(platform, '/hook').map((g) => JSON.parse(g.body).event_id);
    expect(hooks).toEqual(['ord-real']);
    expect(await server.services.worker.drainOnce()).toBe(0);
  });
});
