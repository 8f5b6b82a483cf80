/**
 * Destinations made through the admin API cannot be aimed inside the network by default
 * (issue 18, item 4): refused when saved with an address inside it, refused at send time
 * when a name resolves inside it, allowed by `allow_private_destinations`; the config
 * file's own destinations are untouched; the test endpoint relays only a short text excerpt.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const running: Server[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.close();
});
afterAll(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(respond?: Receiver['respond']): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

async function start(extra: Record<string, unknown> = {}) {
  const hook = await receiver();
  const r = await startPixeltrail({ ...testConfig(`${hook.url}/file`), ...extra }, tempDir());
  running.push(r.server);
  return { ...r, hook };
}

const webhook = (id: string, url: string, extra: Record<string, unknown> = {}) => ({
  env_id: 'env_t',
  id,
  type: 'webhook',
  events: ['Purchase'],
  merge_window: 0,
  retry: { base_delay: '100ms' },
  timeout: '2s',
  settings: { url, secret: 'made-in-the-api' },
  ...extra,
});

/** A view of the ad on `dest`, then the purchase it is credited for. */
async function adThenPurchase(base: string, dest: string, id: string) {
  await fetch(`${base}/i?env_id=env_t&dest_id=${dest}&imp_id=IMP-${id}`, {
    headers: { 'user-agent': UA },
  });
  expect((await postEvents(base, [purchase(id)])).status).toBe(200);
}

describe('destinations made through the admin API', () => {
  it('PD01 a URL on an address inside the network is refused when saved, by field, numeric forms too', async () => {
    const { base, hook } = await start();
    const urls = [
      `http://127.0.0.1:${hook.port}/x`,
      `http://2130706433:${hook.port}/x`,
      `http://0x7f.1:${hook.port}/x`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${hook.port}/x`,
      'http://[fd00::1]/x',
      'http://10.0.0.5/x',
    ];
    for (const url of urls) {
      const res = await admin(base, '/api/destinations', 'POST', webhook('dsp-in', url));
      expect(res.status, url).toBe(400);
      expect(res.body.errors, url).toEqual([
        {
          index: null,
          field: 'settings.url',
          message: expect.stringMatching(/address; .*allow_private_destinations/),
        },
      ]);
    }
    const base_url = await admin(
      base,
      '/api/destinations',
      'POST',
      webhook('dsp-in', 'https://hooks.example.com/x', { base_url: 'http://192.168.1.1' }),
    );
    expect(base_url.body.errors).toEqual([
      expect.objectContaining({ field: 'base_url', message: expect.stringMatching(/private/) }),
    ]);
    expect((await admin(base, '/api/destinations')).body.destinations).toHaveLength(1);
  });

  it('PD02 a name resolving inside the network is saved but refused at send time: nothing arrives, the destination is paused and says why', async () => {
    const { server, base } = await start();
    const inside = await receiver();
    const url = `http://localhost:${inside.port}/api-made`;
    expect((await admin(base, '/api/destinations', 'POST', webhook('dsp-in', url))).status).toBe(
      201,
    );
    const test = await admin(base, '/api/destinations/env_t/dsp-in/test?confirm=real', 'POST');
    expect(test.body.result).toEqual({
      kind: 'network',
      error: expect.stringMatching(/^address_refused: localhost: 127\.0\.0\.1 is a loopback/),
    });
    await adThenPurchase(base, 'dsp-in', 'ord-pd2');
    const paused = await waitFor(async () =>
      (await server.services.store.pausedDestinations()).find((p) => p.dest_id === 'dsp-in'),
    );
    expect(paused?.reason).toMatch(/^address_refused: /);
    expect(inside.got).toEqual([]);
  });

  it("PD03 the config file's destinations keep their loopback address, also when edited without moving it", async () => {
    const { base, hook } = await start();
    const edit = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', { view_window: '2d' });
    expect(edit.status).toBe(200);
    await adThenPurchase(base, 'dsp1', 'ord-pd3');
    await waitFor(() => hook.got.some((g) => g.body.includes('"ord-pd3"')));
    const moved = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', {
      settings: { url: `http://127.0.0.1:${hook.port}/elsewhere` },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.errors).toEqual([expect.objectContaining({ field: 'settings.url' })]);
  });

  it('PD04 allow_private_destinations lets the operator allow a range', async () => {
    const { base } = await start({ allow_private_destinations: ['127.0.0.0/8'] });
    const inside = await receiver();
    const url = `http://localhost:${inside.port}/api-made`;
    expect((await admin(base, '/api/destinations', 'POST', webhook('dsp-in', url))).status).toBe(
      201,
    );
    await adThenPurchase(base, 'dsp-in', 'ord-pd4');
    await waitFor(() => inside.got.some((g) => g.body.includes('"ord-pd4"')));
    const outside = await admin(
      base,
      '/api/destinations',
      'POST',
      webhook('dsp-out', 'http://10.0.0.5/x'),
    );
    expect(outside.status).toBe(400);
  });

  it('PD05 the test endpoint shows the status and a short excerpt of text bodies only', async () => {
    const { base } = await start({ allow_private_destinations: true });
    const long = await receiver(() => ({ status: 200, body: { note: 'x'.repeat(5000) } }));
    const binary = await receiver(() => ({
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: { secret: 'internal' },
    }));
    await admin(base, '/api/destinations', 'POST', webhook('dsp-long', `${long.url}/t`));
    await admin(base, '/api/destinations', 'POST', webhook('dsp-bin', `${binary.url}/t`));
    const a = (await admin(base, '/api/destinations/env_t/dsp-long/test?confirm=real', 'POST'))
      .body;
    expect(a.result).toMatchObject({ kind: 'response', status: 200 });
    expect(a.result.bodyExcerpt.startsWith('{"note":"xxx')).toBe(true);
    expect(a.result.bodyExcerpt.length).toBeLessThanOrEqual(301);
    expect(a.reading.detail.length).toBeLessThanOrEqual(301);
    const b = (await admin(base, '/api/destinations/env_t/dsp-bin/test?confirm=real', 'POST')).body;
    expect(b.result).toMatchObject({ kind: 'response', status: 200, bodyExcerpt: '' });
    expect(JSON.stringify(b)).not.toContain('internal');
  });
});
