import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
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

let hook: Receiver | undefined;
let running: Server[] = [];

afterEach(async () => {
  for (const s of running) await s.close();
  running = [];
  await hook?.close().catch(() => undefined);
  hook = undefined;
});

async function start(
  respond: Receiver['respond'],
  dest: Record<string, unknown> = {},
  dir = tempDir(),
) {
  hook = await startReceiver(respond);
  const { server, base } = await startPixeltrail(testConfig(`${hook.url}/hook`, dest), dir);
  running.push(server);
  return { base, dir, server };
}

/** An impression from the same browser (IP and user agent) as the later purchase. */
async function impression(base: string, impId: string) {
  await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=${impId}&campaign_id=c1`, {
    headers: { 'user-agent': UA },
  });
}

const posts = (r: Receiver, eventId: string) =>
  r.got.filter((g) => g.method === 'POST' && JSON.parse(g.body).event_id === eventId);

/**
 * Proves nothing more goes out without waiting for it: a delivery round run now claims
 * nothing (no row is due, or its destination is paused), so the receiver's count is final.
 */
async function nothingDue(server: Server) {
  expect(await server.services.worker.drainOnce()).toBe(0);
}

describe('webhook delivery against a real receiver', () => {
  it('W01 the delivery is signed, keyed and shaped as the contract says', async () => {
    const { base } = await start(() => 200);
    await impression(base, 'IMP-W1');
    await postEvents(base, [purchase('ord-w1')]);
    const [rec] = (await waitFor(
      () => posts(hook!, 'ord-w1').length > 0 && posts(hook!, 'ord-w1'),
    )) as ReturnType<typeof posts>;
    const want = `sha256=${createHmac('sha256', 's3cret').update(rec.body).digest('hex')}`;
    expect(rec.headers['x-pixeltrail-signature']).toBe(want);
    const body = JSON.parse(rec.body);
    expect(rec.headers['idempotency-key']).toBe(`${body.conversion_id}:dsp1`);
    expect(body).toMatchObject({
      env_id: 'env_t',
      dest_id: 'dsp1',
      event_name: 'Purchase',
      event_id: 'ord-w1',
      value: 49.9,
      currency: 'EUR',
      attribution: {
        type: 'view',
        imp_id: 'IMP-W1',
        click_id: null,
        campaign_id: 'c1',
        match_key: 'ip+ua',
        window: '1d',
        model: 'last_touch',
      },
    });
    expect(typeof body.event_time).toBe('number');
    expect(typeof body.attribution.touch_time).toBe('number');
  });

  it('W02 a 500 is retried until the receiver accepts; every attempt is logged', async () => {
    const { base } = await start((_r, n) => (n <= 2 ? 500 : 200));
    await impression(base, 'IMP-W2');
    await postEvents(base, [purchase('ord-w2')]);
    await waitFor(
      async () =>
        (await admin(base, '/api/deliveries?status=delivered')).body.deliveries.length === 1,
    );
    expect(posts(hook!, 'ord-w2')).toHaveLength(3);
    expect(new Set(posts(hook!, 'ord-w2').map((g) => g.headers['idempotency-key'])).size).toBe(1);
    const [row] = (await admin(base, '/api/deliveries')).body.deliveries;
    const detail = (await admin(base, `/api/deliveries/${row.id}`)).body;
    expect(detail.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([
      500, 500, 200,
    ]);
  });

  it('W03 a 400 is not retried; the row fails and is retried on request', async () => {
    const { base, server } = await start((_r, n) => (n === 1 ? 400 : 200));
    await impression(base, 'IMP-W3');
    await postEvents(base, [purchase('ord-w3')]);
    const [row] = await waitFor(async () => {
      const d = (await admin(base, '/api/deliveries?status=failed')).body.deliveries;
      return d.length ? d : null;
    });
    await nothingDue(server);
    expect(posts(hook!, 'ord-w3')).toHaveLength(1);
    expect(row.attempts).toBe(1);
    expect(row.last_status).toBe(400);
    const retry = await admin(base, `/api/deliveries/${row.id}/retry`, 'POST');
    expect(retry.status).toBe(200);
    await waitFor(() => posts(hook!, 'ord-w3').length === 2);
    await waitFor(
      async () =>
        (await admin(base, `/api/deliveries/${row.id}`)).body.outbox.status === 'delivered',
    );
  });

  it('W04 a receiver that is down, then up, gets the conversion once', async () => {
    const { base, server } = await start(() => 200);
    await hook!.stop();
    await impression(base, 'IMP-W4');
    await postEvents(base, [purchase('ord-w4')]);
    await waitFor(async () => {
      const [row] = (await admin(base, '/api/deliveries')).body.deliveries;
      return row && row.attempts >= 2 && row.status === 'pending';
    });
    await hook!.start();
    await waitFor(() => posts(hook!, 'ord-w4').length === 1, 15_000);
    const [row] = await waitFor(async () => {
      const d = (await admin(base, '/api/deliveries?status=delivered')).body.deliveries;
      return d.length ? d : null;
    });
    await nothingDue(server);
    expect(posts(hook!, 'ord-w4')).toHaveLength(1);
    // Every send is an attempt in the log: one of them got through.
    const { attempts } = (await admin(base, `/api/deliveries/${row.id}`)).body;
    expect(
      attempts.filter((a: { status_code: number | null }) => a.status_code === 200),
    ).toHaveLength(1);
  });

  it('W05 a server restarted mid-retry delivers once after the restart', async () => {
    const dir = tempDir();
    let failing = true;
    const first = await start(() => (failing ? 503 : 200), {}, dir);
    await impression(first.base, 'IMP-W5');
    await postEvents(first.base, [purchase('ord-w5')]);
    await waitFor(() => posts(hook!, 'ord-w5').length >= 1);
    await first.server.close();
    running = [];
    failing = false;
    const restartedAt = Date.now();
    const { server, base } = await startPixeltrail(
      testConfig(`${hook!.url}/hook`, { retry: { base_delay: '100ms' } }),
      dir,
    );
    running.push(server);
    await waitFor(
      async () =>
        (await admin(base, '/api/deliveries?status=delivered')).body.deliveries.length === 1,
    );
    await nothingDue(server);
    expect(posts(hook!, 'ord-w5').filter((g) => g.at >= restartedAt)).toHaveLength(1);
    expect((await admin(base, '/api/stats')).body).toMatchObject({
      conversions: 1,
      outbox_delivered: 1,
      outbox_pending: 0,
    });
  });

  it('W06 the row dead-letters after its retry budget and can be retried', async () => {
    let up = false;
    const { base } = await start(() => (up ? 200 : 500), {
      retry: { base_delay: '50ms', max_attempts: 3 },
    });
    await impression(base, 'IMP-W6');
    await postEvents(base, [purchase('ord-w6')]);
    const [row] = await waitFor(async () => {
      const d = (await admin(base, '/api/deliveries?status=dead')).body.deliveries;
      return d.length ? d : null;
    });
    expect(row.attempts).toBe(3);
    expect(posts(hook!, 'ord-w6')).toHaveLength(3);
    up = true;
    expect((await admin(base, `/api/deliveries/${row.id}/retry`, 'POST')).status).toBe(200);
    await waitFor(
      async () =>
        (await admin(base, `/api/deliveries/${row.id}`)).body.outbox.status === 'delivered',
    );
    expect((await admin(base, `/api/deliveries/${row.id}/retry`, 'POST')).status).toBe(409);
  });

  it('W07 a 401 pauses the destination until it is resumed', async () => {
    let auth = false;
    const { base, server } = await start(() => (auth ? 200 : 401));
    await impression(base, 'IMP-W7');
    await postEvents(base, [purchase('ord-w7a')]);
    await waitFor(
      async () =>
        (await admin(base, '/api/environments')).body.environments[0].destinations[0].paused,
    );
    await postEvents(base, [purchase('ord-w7b')]);
    // Its row is due (pending), and a round leaves it: the destination is paused.
    expect((await admin(base, '/api/stats')).body).toMatchObject({ outbox_pending: 1 });
    await nothingDue(server);
    expect(posts(hook!, 'ord-w7b')).toHaveLength(0);
    auth = true;
    expect((await admin(base, '/api/destinations/env_t/dsp1/resume', 'POST')).status).toBe(200);
    await waitFor(() => posts(hook!, 'ord-w7b').length === 1);
    const env = (await admin(base, '/api/environments')).body.environments[0];
    expect(env.destinations[0]).toMatchObject({ paused: false, settings: { secret: '****' } });
  });

  it('W08 a 429 with Retry-After waits that long before the next attempt', async () => {
    const { base } = await start((_r, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200,
    );
    await impression(base, 'IMP-W8');
    await postEvents(base, [purchase('ord-w8')]);
    await waitFor(() => posts(hook!, 'ord-w8').length === 2, 10_000);
    const [a, b] = posts(hook!, 'ord-w8');
    expect(b.at - a.at).toBeGreaterThanOrEqual(950);
  });

  it('W09 replay re-sends a time range with the same Idempotency-Key', async () => {
    const { base } = await start(() => 200);
    await impression(base, 'IMP-W9');
    await postEvents(base, [purchase('ord-w9')]);
    await waitFor(() => posts(hook!, 'ord-w9').length === 1);
    const r = await admin(base, '/api/replay', 'POST', {
      env_id: 'env_t',
      dest_id: 'dsp1',
      from: new Date(Date.now() - 60_000).toISOString(),
      to: new Date(Date.now() + 1000).toISOString(),
    });
    expect(r.body).toEqual({ queued: 1 });
    await waitFor(() => posts(hook!, 'ord-w9').length === 2);
    const [a, b] = posts(hook!, 'ord-w9');
    expect(a.headers['idempotency-key']).toBe(b.headers['idempotency-key']);
  });

  it('W10 an unattributed conversion is stored with its reason and not delivered', async () => {
    const { base, server } = await start(() => 200);
    await postEvents(base, [purchase('ord-w10', { user: { ip: '198.51.100.4', user_agent: UA } })]);
    const [c] = await waitFor(async () => {
      const list = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions;
      return list.length ? list : null;
    });
    expect(c).toMatchObject({
      event_id: 'ord-w10',
      attribution: null,
      reason: 'no touch of this person for this destination',
    });
    // No outbox row was written for it, so no round will send it.
    expect((await admin(base, '/api/stats')).body).toMatchObject({
      outbox_pending: 0,
      outbox_delivered: 0,
      outbox_dead: 0,
    });
    await nothingDue(server);
    expect(hook!.got).toHaveLength(0);
  });
});
