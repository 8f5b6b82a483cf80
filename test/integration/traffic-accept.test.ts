/**
 * Bad traffic and browser-sent conversions (issue 6): bots, scanners, mail privacy proxies
 * and prefetches are stored flagged, counted apart and never credited; a destination may
 * refuse browser-sent conversions unless they are server-side or signed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../src/domain/event-signature.js';
import type { Server } from '../../src/server.js';
import { admin, postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedByKey } from '../helpers/stored-event.js';

const GOOGLEBOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)';
const GMAIL_PROXY =
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

let hook: Receiver;
let server: Server;
let base: string;

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  const dest = (id: string, extra: Record<string, unknown>) => ({
    id,
    type: 'webhook',
    url: `${hook.url}/${id}`,
    secret: 's',
    events: ['Purchase'],
    ...extra,
  });
  ({ server, base } = await startPixeltrail(
    {
      admin_token: 'adm',
      log_level: 'silent',
      trust_proxy: true,
      environments: [
        {
          id: 'env_t',
          write_key: 'wk_t',
          allowed_origins: ['*'],
          click_url_hosts: ['shop.example'],
          destinations: [
            dest('dsp1', {}),
            dest('any', { attributed_only: false, events: ['Lead'] }),
            dest('server', { attributed_only: false, accept: 'server_only', events: ['Lead'] }),
            dest('signed', { attributed_only: false, accept: 'signed', events: ['Lead'] }),
          ],
        },
      ],
    },
    tempDir(),
  ));
});
afterAll(async () => {
  await server?.close();
  await hook?.close();
});

const get = (path: string, headers: Record<string, string>) =>
  fetch(`${base}${path}`, { headers, redirect: 'manual' });
const stats = async () => {
  await server.services.pipeline.flush();
  return (await admin(base, '/api/stats?env_id=env_t')).body;
};
const delivered = (dest: string, eventId: string) =>
  hook.got.some((r) => r.url === `/${dest}` && JSON.parse(r.body).event_id === eventId);

async function conversion(eventId: string, dest: string) {
  return waitFor(async () => {
    const list = (await admin(base, `/api/conversions?env_id=env_t&dest_id=${dest}`)).body;
    return list.conversions.find((c: { event_id: string }) => c.event_id === eventId);
  });
}

async function stored(name: string, eventId: string) {
  await server.services.pipeline.flush();
  return storedByKey(server.services.store, 'env_t', name, eventId);
}

describe('traffic', () => {
  it('B01 a crawler impression is stored flagged, counted apart, gets no cookie', async () => {
    const before = await stats();
    const res = await get('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-BOT1&user_id=u-bot', {
      'user-agent': GOOGLEBOT,
      'x-forwarded-for': '198.51.100.10',
    });
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('x-pixeltrail-warnings')).toBe('bot');
    expect(res.headers.get('set-cookie')).toBeNull();
    const after = await stats();
    expect(after.impressions).toBe(before.impressions);
    expect(after.bot_hits).toBe(before.bot_hits + 1);
  });

  it('B02 a conversion is never credited to a bot touch', async () => {
    await postEvents(base, [
      {
        event_name: 'Purchase',
        event_id: 'ord-bot',
        user: { user_id: 'u-bot' },
        properties: { value: 1, currency: 'EUR' },
      },
    ]);
    const c = await conversion('ord-bot', 'dsp1');
    expect(c.attribution).toBeNull();
  });

  it('B03 a mail image proxy open is stored as prefetch and never credited', async () => {
    const res = await get('/p?env_id=env_t&ev=Purchase&eid=ord-proxy&value=3&currency=EUR', {
      'user-agent': GMAIL_PROXY,
      'x-forwarded-for': '198.51.100.11',
    });
    expect(res.headers.get('x-pixeltrail-warnings')).toContain('prefetch');
    const ev = await stored('Purchase', 'ord-proxy');
    expect(ev?.event.traffic).toBe('prefetch');
    expect((await conversion('ord-proxy', 'dsp1')).reason).toMatch(/not human/);
    const apple = await get('/p?env_id=env_t&ev=Lead&eid=lead-mpp', {
      'user-agent': 'Mozilla/5.0',
    });
    expect(apple.headers.get('x-pixeltrail-warnings')).toContain('prefetch');
  });

  it('B04 a prefetched click link redirects but is not a click; the real click is', async () => {
    const url = '/c?env_id=env_t&dest_id=dsp1&click_id=CLK-PF&url=https://shop.example/';
    const before = (await stats()).clicks;
    const pre = await get(url, { 'user-agent': UA, 'sec-purpose': 'prefetch' });
    expect(pre.status).toBe(302);
    expect((await stats()).clicks).toBe(before);
    const real = await get(url, { 'user-agent': UA });
    expect(real.status).toBe(302);
    expect((await stats()).clicks).toBe(before + 1);
  });
});

describe('accept: any | signed | server_only', () => {
  const lead = (eventId: string, extra: Record<string, unknown> = {}) => ({
    event_name: 'Lead',
    event_id: eventId,
    env_id: 'env_t',
    properties: { value: 5, currency: 'EUR' },
    ...extra,
  });
  const beacon = (events: unknown[]) =>
    fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'user-agent': UA, 'content-type': 'text/plain' },
      body: JSON.stringify({ events }),
    });

  it('A01 a browser-sent lead goes to `any` only, and is marked browser-sent', async () => {
    await beacon([lead('lead-browser')]);
    await waitFor(() => delivered('any', 'lead-browser'));
    expect((await stored('Lead', 'lead-browser'))?.event.browser_sent).toBe(true);
    expect((await conversion('lead-browser', 'server')).reason).toMatch(/browser-sent/);
    expect((await conversion('lead-browser', 'signed')).reason).toMatch(/unsigned/);
    const rows = (await admin(base, '/api/deliveries?env_id=env_t&limit=1000')).body.deliveries;
    const convId = (await conversion('lead-browser', 'server')).conversion_id;
    expect(
      rows
        .filter((d: { conversion_id: string; dest_id: string }) => d.conversion_id === convId)
        .map((d: { dest_id: string }) => d.dest_id),
    ).toEqual(['any']);
  });

  it('A02 a signed browser lead also goes to `signed`; a forged signature does not', async () => {
    const sig = signEvent('wk_t', {
      env_id: 'env_t',
      event_name: 'Lead',
      event_id: 'lead-signed',
      properties: { value: 5, currency: 'EUR' },
    });
    await beacon([lead('lead-signed', { sig }), lead('lead-forged', { sig: 'ab'.repeat(32) })]);
    await waitFor(() => delivered('signed', 'lead-signed'));
    expect((await conversion('lead-forged', 'signed')).reason).toMatch(/unsigned/);
    const pixelSig = signEvent('wk_t', {
      env_id: 'env_t',
      event_name: 'Lead',
      event_id: 'lead-pixel',
      properties: { value: 7, currency: 'EUR' },
    });
    await get(`/p?env_id=env_t&ev=Lead&eid=lead-pixel&value=7.00&currency=eur&sig=${pixelSig}`, {
      'user-agent': UA,
    });
    await waitFor(() => delivered('signed', 'lead-pixel'));
  });

  it('A03 the server copy of a browser lead vouches for it: `server_only` then gets it', async () => {
    await beacon([lead('lead-both')]);
    await conversion('lead-both', 'server');
    expect(delivered('server', 'lead-both')).toBe(false);
    await postEvents(base, [lead('lead-both')]);
    await waitFor(() => delivered('server', 'lead-both'));
    expect(
      hook.got.filter((r) => r.url === '/any' && JSON.parse(r.body).event_id === 'lead-both')
        .length,
    ).toBe(1);
  });
});
