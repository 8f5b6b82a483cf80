import { afterAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// README: audience sync batches go out "in a lane of their own, so they never hold
// conversions back". A platform slow to take a batch must not delay conversion deliveries.

const SLOW_MS = 15_000;
let meta: Receiver;
let hook: Receiver;
let server: Server | undefined;

afterAll(async () => {
  await server?.close();
  await meta?.close();
  await hook?.close();
});

describe('audience sync batches beside conversions', () => {
  it('AL01 a conversion is delivered while a slow platform is still taking an audience batch', async () => {
    meta = await startReceiver(() => 200);
    meta.delayMs = SLOW_MS;
    hook = await startReceiver(() => 200);
    const started = await startPixeltrail(
      {
        admin_token: 'adm',
        log_level: 'silent',
        delivery_lease: '1m',
        environments: [
          {
            id: 'env_t',
            name: 'Shop',
            write_key: 'wk_t',
            destinations: [
              {
                id: 'meta1',
                type: 'meta',
                pixel_id: '123456',
                access_token: 'token',
                base_url: meta.url,
                events: ['Lead'],
                timeout: '30s',
              },
              {
                id: 'hook1',
                type: 'webhook',
                url: `${hook.url}/h`,
                secret: 's',
                events: ['Purchase'],
                attributed_only: false,
              },
            ],
          },
        ],
      },
      tempDir(),
    );
    server = started.server;
    const { base } = started;
    const carts = await postEvents(
      base,
      ['ann', 'bob', 'cy'].map((n) => ({
        event_name: 'AddToCart',
        event_id: `cart-${n}`,
        env_id: 'env_t',
        user: { user_id: n, email: `${n}@example.com` },
      })),
    );
    expect(carts.body.errors).toEqual([]);
    const aud = await admin(base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Carts',
      min_export_size: 2,
      rules: { all: [{ event: 'AddToCart', within: '7d' }] },
    });
    expect(aud.status, JSON.stringify(aud.body)).toBe(201);
    await server.services.audiences.settle();
    const sync = await admin(base, `/api/audiences/${aud.body.id}/sync`, 'POST', {
      dest_id: 'meta1',
      platform_audience_id: 'aud-1',
    });
    expect(sync.status, JSON.stringify(sync.body)).toBe(202);
    // The batch is at the platform, which takes its time answering.
    expect(await waitFor(() => meta.got.length > 0 || null, 20_000)).toBe(true);
    const sentAt = meta.got[0].at;

    expect((await postEvents(base, [purchase('ord-al01')])).body.errors).toEqual([]);
    await waitFor(() => hook.got.length > 0 || null, SLOW_MS * 2);
    expect(hook.got.length).toBeGreaterThan(0);
    // Delivered while the platform was still holding the audience batch's request.
    expect(hook.got[0].at).toBeLessThan(sentAt + SLOW_MS);
  }, 60_000);
});
