import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { sha256Hex } from '../../src/domain/identity.js';
import { createServer, type Server } from '../../src/server.js';
import { schemaErrors } from '../contract/harness.js';
import { admin, startPixeltrail, tempDir, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// Audience syncs go through the outbox (issue 9): durable, retried, logged, dead-lettered
// and retried by hand like conversions. Each test has its own Meta stand-in and destination.

const H = 3600;
const T0 = Math.floor(Date.now() / 1000) - 5 * 86_400;
let clockS = T0;
// The tests move the clock by hours; backoff still needs real milliseconds to pass.
const realStart = Date.now();
const nowMs = () => clockS * 1000 + (Date.now() - realStart);

const receivers: Record<string, Receiver> = {};
const servers: Server[] = [];
const dataDir = tempDir();

function config() {
  const meta = (id: string, over: Record<string, unknown> = {}) => ({
    id,
    type: 'meta',
    pixel_id: '123456',
    access_token: `token-${id}`,
    base_url: receivers[id].url,
    events: ['Purchase'],
    retry: { base_delay: '100ms' },
    timeout: '2s',
    ...over,
  });
  return {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Shop',
        write_key: 'wk_t',
        destinations: [
          meta('down'),
          meta('restart'),
          meta('refused'),
          meta('budget', { retry: { base_delay: '50ms', max_attempts: 2 } }),
          meta('sched'),
        ],
      },
    ],
  };
}

function parsed() {
  const { config: c, errors } = parseConfig(config(), {
    port: 0,
    host: '127.0.0.1',
    data_dir: dataDir,
  });
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  return c;
}

/** An in-process request to a server that may not be listening. */
async function call(server: Server, url: string, method = 'GET', body?: unknown) {
  const r = await server.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: 'Bearer adm', 'content-type': 'application/json' },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.statusCode, body: r.json() };
}

/** One event per person, committed and evaluated for audiences. */
async function shoppers(server: Server, names: string[], event_name: string) {
  const r = await server.app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: 'Bearer wk_t', 'content-type': 'application/json' },
    payload: JSON.stringify({
      events: names.map((n) => ({
        event_name,
        event_id: `${event_name}-${n}-${clockS}`,
        event_time: Math.floor(nowMs() / 1000),
        env_id: 'env_t',
        user: { user_id: n, email: `${n}@example.com` },
        properties: event_name === 'Purchase' ? { value: 1, currency: 'EUR' } : {},
      })),
    }),
  });
  expect(r.json().errors).toEqual([]);
  await server.services.audiences.settle();
}

/** An audience of who did `event` (one per test, so tests do not share members) and did not buy. */
async function newAudience(server: Server, event: string, extra: Record<string, unknown> = {}) {
  const r = await call(server, '/api/audiences', 'POST', {
    env_id: 'env_t',
    name: `Cart ${event}`,
    min_export_size: 2,
    rules: {
      all: [{ event, within: '7d' }],
      none: [{ event: 'Purchase', within: '7d' }],
    },
    ...extra,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

/** The Meta users request as its documented schema sees it. */
function metaRequest(r: Receiver['got'][number]) {
  return {
    method: r.method,
    path: r.url.split('?')[0],
    headers: r.headers,
    body: JSON.parse(r.body),
  };
}

const delivery = async (server: Server, id: number) =>
  (await call(server, `/api/deliveries/${id}`)).body;

async function settled(server: Server, id: number) {
  return waitFor(async () => {
    const d = await delivery(server, id);
    return d.outbox.status !== 'pending' && d;
  }, 20_000);
}

let server: Server;
let base: string;

beforeAll(async () => {
  for (const id of ['down', 'restart', 'refused', 'budget', 'sched'])
    receivers[id] = await startReceiver(() => ({ status: 200, body: { num_received: 1 } }));
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  for (const r of Object.values(receivers)) await r.close().catch(() => {});
});

describe('audience syncs are durable outbox jobs', () => {
  it('AD01 a sync queued while the server is down is sent after a restart', async () => {
    // The first process never listens, so its worker never runs: the batch waits in the outbox.
    const first = await createServer(parsed(), { nowMs });
    const audience = await newAudience(first, 'CartR');
    await shoppers(first, ['r1', 'r2'], 'CartR');
    const s = await call(first, `/api/audiences/${audience}/sync`, 'POST', {
      dest_id: 'restart',
      platform_audience_id: '700',
    });
    expect(s.status).toBe(202);
    expect(s.body).toMatchObject({ status: 'queued', size: 2, added: 2 });
    await first.close();
    expect(receivers.restart.got).toHaveLength(0);

    ({ server, base } = await startPixeltrail(config(), dataDir, { nowMs }));
    servers.push(server);
    const d = await settled(server, s.body.deliveries[0]);
    expect(d.outbox.status).toBe('delivered');
    expect(receivers.restart.got).toHaveLength(1);
    const req = metaRequest(receivers.restart.got[0]);
    expect(schemaErrors('meta_audience_users', req)).toEqual([]);
    expect(req).toMatchObject({ method: 'POST', path: '/v21.0/700/users' });
    expect(req.body.access_token).toBe('token-restart');
    expect(req.body.payload.data).toEqual(
      expect.arrayContaining([
        [sha256Hex('r1@example.com'), '', sha256Hex('r1')],
        [sha256Hex('r2@example.com'), '', sha256Hex('r2')],
      ]),
    );
  });

  it('AD02 a platform down, then up: the batch is retried and delivered once', async () => {
    const audience = await newAudience(server, 'CartD');
    await shoppers(server, ['d1', 'd2', 'd3'], 'CartD');
    await receivers.down.stop();
    const s = await admin(base, `/api/audiences/${audience}/sync`, 'POST', {
      dest_id: 'down',
      platform_audience_id: '701',
    });
    const id = s.body.deliveries[0];
    // At least one attempt fails on the closed port and is scheduled again.
    await waitFor(async () => (await delivery(server, id)).attempts.length >= 1);
    await receivers.down.start();
    const d = await settled(server, id);
    expect(d.outbox.status).toBe('delivered');
    expect(d.attempts.at(0)).toMatchObject({ verdict: 'retry', status_code: null });
    expect(d.attempts.at(-1)).toMatchObject({ verdict: 'done', status_code: 200 });
    expect(receivers.down.got).toHaveLength(1);
    const req = metaRequest(receivers.down.got[0]);
    expect(schemaErrors('meta_audience_users', req)).toEqual([]);
    expect(req.body.payload.data).toHaveLength(3);
  });

  it('AD03 a permanent 400 fails the batch at once; retry sends it again', async () => {
    receivers.refused.respond = (_r, n) =>
      n === 1 ? { status: 400, body: { error: { code: 100, message: 'Invalid parameter' } } } : 200;
    const audience = await newAudience(server, 'CartF');
    await shoppers(server, ['f1', 'f2'], 'CartF');
    const s = await admin(base, `/api/audiences/${audience}/sync`, 'POST', {
      dest_id: 'refused',
      platform_audience_id: '702',
    });
    const id = s.body.deliveries[0];
    const failed = await settled(server, id);
    expect(failed.outbox.status).toBe('failed');
    expect(failed.attempts).toEqual([
      expect.objectContaining({ verdict: 'drop', status_code: 400 }),
    ]);
    expect(receivers.refused.got).toHaveLength(1);
    const listed = await admin(base, '/api/deliveries?dest_id=refused&status=failed');
    expect(listed.body.deliveries.map((d: { id: number }) => d.id)).toEqual([id]);

    expect((await admin(base, `/api/deliveries/${id}/retry`, 'POST')).status).toBe(200);
    const again = await settled(server, id);
    expect(again.outbox.status).toBe('delivered');
    expect(receivers.refused.got).toHaveLength(2);
    expect(receivers.refused.got[1].body).toBe(receivers.refused.got[0].body);
  });

  it('AD04 a spent retry budget dead-letters the batch; retry delivers it', async () => {
    receivers.budget.respond = () => 503;
    const audience = await newAudience(server, 'CartB');
    await shoppers(server, ['b1', 'b2'], 'CartB');
    const s = await admin(base, `/api/audiences/${audience}/sync`, 'POST', {
      dest_id: 'budget',
      platform_audience_id: '703',
    });
    const id = s.body.deliveries[0];
    const dead = await settled(server, id);
    expect(dead.outbox.status).toBe('dead');
    expect(dead.attempts.map((a: { verdict: string }) => a.verdict)).toEqual([
      'retry',
      'dead-letter',
    ]);
    receivers.budget.respond = () => 200;
    await admin(base, `/api/deliveries/${id}/retry`, 'POST');
    expect((await settled(server, id)).outbox.status).toBe('delivered');
    expect(receivers.budget.got).toHaveLength(3);
  });

  it('AD05 a scheduled sync sends, every 6 h, only who entered or left since the last one', async () => {
    const bad = await admin(base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'x',
      rules: { all: [{ event: 'AddToCart', within: '7d' }] },
      syncs: [
        { dest_id: 'nope', platform_audience_id: '1', every: '6h' },
        { dest_id: 'sched', platform_audience_id: '1', every: 'often' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'syncs[0].dest_id',
      'syncs[1].every',
    ]);

    await shoppers(server, ['s1', 's2'], 'CartS');
    const audience = await newAudience(server, 'CartS', {
      syncs: [{ dest_id: 'sched', platform_audience_id: '704', every: '6h' }],
    });
    const got = receivers.sched.got;
    // The first run is due at once and sends everyone.
    expect(await server.services.audiences.runScheduledSyncs()).toBe(1);
    await waitFor(() => got.length === 1);
    const first = metaRequest(got[0]);
    expect(first.method).toBe('POST');
    expect(first.body.payload.data.map((r: string[]) => r[2]).sort()).toEqual(
      [sha256Hex('s1'), sha256Hex('s2')].sort(),
    );
    const shown = (await admin(base, `/api/audiences/${audience}`)).body.syncs;
    expect(shown).toEqual([
      expect.objectContaining({ dest_id: 'sched', platform_audience_id: '704', every: '6h' }),
    ]);

    // s3 enters, s1 buys and leaves; an hour later nothing is due yet.
    clockS += H;
    await shoppers(server, ['s3'], 'CartS');
    await shoppers(server, ['s1'], 'Purchase');
    expect(await server.services.audiences.runScheduledSyncs()).toBe(0);
    clockS += 5 * H;
    expect(await server.services.audiences.runScheduledSyncs()).toBe(2);
    await waitFor(() => got.length === 3);
    const [removal, addition] = got.slice(1).map(metaRequest);
    for (const r of [removal, addition]) expect(schemaErrors('meta_audience_users', r)).toEqual([]);
    expect(removal.method).toBe('DELETE');
    expect(removal.body.payload.data).toEqual([[sha256Hex('s1@example.com'), '', sha256Hex('s1')]]);
    expect(addition.method).toBe('POST');
    expect(addition.body.payload.data).toEqual([
      [sha256Hex('s3@example.com'), '', sha256Hex('s3')],
    ]);
    // Nothing changed since: the next run sends nothing.
    clockS += 6 * H;
    expect(await server.services.audiences.runScheduledSyncs()).toBe(0);
  });

  it('AD06 an erased person leaves the batches not yet sent; delivered batches keep no ids', async () => {
    const audience = await newAudience(server, 'CartE');
    await shoppers(server, ['e1', 'e2', 'e3'], 'CartE');
    await receivers.down.stop();
    const before = receivers.down.got.length;
    const s = await admin(base, `/api/audiences/${audience}/sync`, 'POST', {
      dest_id: 'down',
      platform_audience_id: '705',
    });
    const id = s.body.deliveries[0];
    await waitFor(async () => (await delivery(server, id)).attempts.length >= 1);
    const erased = await admin(base, '/api/subjects?env_id=env_t&user_id=e2', 'DELETE');
    expect(erased.body.deleted.audience_rows).toBeGreaterThanOrEqual(1);
    await receivers.down.start();
    expect((await settled(server, id)).outbox.status).toBe('delivered');
    // Caught mid-send, the batch may have reached the platform: a removal of e2 then follows.
    const sent = metaRequest(
      receivers.down.got.slice(before).find((r) => r.method === 'POST') as Receiver['got'][number],
    );
    expect(sent.body.payload.data.map((r: string[]) => r[2]).sort()).toEqual(
      [sha256Hex('e1'), sha256Hex('e3')].sort(),
    );
    const rows = await server.services.store.listAudienceJobs('env_t', audience, 10);
    expect(rows.find((r) => r.outbox.id === id)?.job).toMatchObject({ persons: [], rows: 2 });
    const log = (await admin(base, `/api/audiences/${audience}/syncs`)).body.jobs;
    expect(log.find((j: { delivery_id: number }) => j.delivery_id === id)).toMatchObject({
      status: 'delivered',
      rows: 2,
    });
  });
});
