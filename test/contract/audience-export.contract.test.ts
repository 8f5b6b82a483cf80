import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/identity.js';
import type { Server } from '../../src/server.js';
import { admin, postEvents, startPixeltrail, tempDir, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { schemaErrors } from './harness.js';

const D = 86_400;
const T0 = Math.floor(Date.now() / 1000) - 10 * D;
let clockS = T0;
// The test moves the clock by days; retries still need real milliseconds to pass.
const realStart = Date.now();
const nowMs = () => clockS * 1000 + (Date.now() - realStart);

let server: Server;
let base: string;
let meta: Receiver;
let tiktok: Receiver;
let google: Receiver;
let audience: string;

/** What a platform stand-in got, in the shape the schemas validate. */
function request(r: Receiver['got'][number]) {
  return {
    method: r.method,
    path: r.url.split('?')[0],
    headers: r.headers,
    body: JSON.parse(r.body),
  };
}

const common = { events: ['Purchase'], retry: { base_delay: '50ms' }, timeout: '2s' };

beforeAll(async () => {
  // Meta fails once with a 500, then accepts: the retry policy must carry the batch through.
  meta = await startReceiver((_rec, n) =>
    n === 1 ? 500 : { status: 200, body: { audience_id: '6000001', num_received: 1 } },
  );
  tiktok = await startReceiver(() => ({ status: 200, body: { code: 0, message: 'OK' } }));
  google = await startReceiver(() => ({ status: 200, body: { requestId: 'r-1' } }));
  const config = {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Shop',
        write_key: 'wk_t',
        allowed_origins: ['*'],
        click_url_hosts: ['shop.example'],
        destinations: [
          {
            id: 'fb',
            type: 'meta',
            pixel_id: '123456',
            access_token: 'meta-token',
            base_url: meta.url,
            ...common,
          },
          {
            id: 'tt',
            type: 'tiktok',
            pixel_code: 'CABC123',
            access_token: 'tt-token',
            base_url: tiktok.url,
            ...common,
          },
          {
            id: 'gg',
            type: 'google_ads',
            customer_id: '123-456-7890',
            conversion_action: '987654321',
            developer_token: 'dev',
            access_token: 'ya29.token',
            base_url: google.url,
            ...common,
          },
          { id: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/x', secret: 's', ...common },
        ],
      },
    ],
  };
  ({ server, base } = await startPixeltrail(config, tempDir(), { nowMs }));
  const r = await admin(base, '/api/audiences', 'POST', {
    env_id: 'env_t',
    name: 'Cart abandoners',
    rules: {
      all: [{ event: 'AddToCart', within: '7d' }],
      none: [{ event: 'Purchase', within: '7d' }],
    },
    min_export_size: 3,
  });
  audience = r.body.id;
});

afterAll(async () => {
  await server?.close();
  for (const r of [meta, tiktok, google]) await r?.close();
});

async function track(events: Array<Record<string, unknown>>) {
  const r = await postEvents(
    base,
    events.map((e, i) => ({
      event_id: `x-${clockS}-${i}-${Math.random()}`,
      event_time: clockS,
      env_id: 'env_t',
      ...e,
    })),
  );
  expect(r.body.errors).toEqual([]);
  await server.services.audiences.settle();
}

const sync = (body: Record<string, unknown>) =>
  admin(base, `/api/audiences/${audience}/sync`, 'POST', body);

/** Waits until each queued batch is no longer pending; answers their final rows. */
async function finished(ids: number[]) {
  const rows = await waitFor(async () => {
    const got = await Promise.all(ids.map((id) => admin(base, `/api/deliveries/${id}`)));
    return got.every((r) => r.body.outbox.status !== 'pending') ? got : null;
  }, 20_000);
  return (rows ?? []).map((r) => r.body);
}

describe('audience exports', () => {
  it('AE01 nothing is exported while the audience is under its minimum size', async () => {
    await track([
      { event_name: 'AddToCart', user: { user_id: 'shopper-1', email: 'One@Example.com' } },
      { event_name: 'AddToCart', user: { anonymous_id: 'browser-2', phone: '+1 (555) 010-0002' } },
    ]);
    expect((await admin(base, `/api/audiences/${audience}`)).body.size).toBe(2);
    const csv = await fetch(`${base}/api/audiences/${audience}/export.csv`, {
      headers: { authorization: 'Bearer adm' },
    });
    expect(csv.status).toBe(409);
    const s = await sync({ dest_id: 'fb', platform_audience_id: '6000001' });
    expect(s.status).toBe(409);
    expect(s.body.error.code).toBe('below_minimum_size');
    await server.services.audiences.settle();
    expect(meta.got).toHaveLength(0);
    expect((await admin(base, `/api/audiences/${audience}/syncs`)).body.jobs).toEqual([]);
  });

  it('AE02 the CSV holds hashed identifiers only, one person a line', async () => {
    await track([
      { event_name: 'AddToCart', user: { user_id: 'shopper-3', email: 'three@example.com' } },
      { event_name: 'AddToCart', user: { anonymous_id: 'browser-4' } },
    ]);
    const res = await fetch(`${base}/api/audiences/${audience}/export.csv`, {
      headers: { authorization: 'Bearer adm' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await res.text();
    const [header, ...rows] = text.trim().split('\n');
    expect(header).toBe('extern_id_sha256,email_sha256,phone_sha256,phone_e164_sha256');
    expect(rows).toHaveLength(4);
    for (const cell of rows.flatMap((r) => r.split(','))) expect(cell).toMatch(/^([0-9a-f]{64})?$/);
    for (const clear of ['shopper', 'browser', 'example.com', '5550100002'])
      expect(text).not.toContain(clear);
    expect(text).toContain(sha256Hex('shopper-1'));
    expect(text).toContain(sha256Hex('one@example.com'));
  });

  it('AE03 Meta gets its documented /{audience_id}/users payload, after one retried 500', async () => {
    const s = await sync({ dest_id: 'fb', platform_audience_id: '6000001' });
    expect(s.status).toBe(202);
    expect(s.body).toMatchObject({ status: 'queued', size: 4, added: 4, removed: 0, skipped: 0 });
    expect(s.body.deliveries).toHaveLength(1);
    const [row] = await finished(s.body.deliveries);
    expect(row.outbox).toMatchObject({ kind: 'audience_sync', status: 'delivered', attempts: 2 });
    expect(meta.got).toHaveLength(2);
    const req = request(meta.got[1]);
    expect(schemaErrors('meta_audience_users', req)).toEqual([]);
    expect(req).toMatchObject({ method: 'POST', path: '/v21.0/6000001/users' });
    expect(req.body.payload.schema).toEqual(['EMAIL_SHA256', 'PHONE_SHA256', 'EXTERN_ID']);
    expect(req.body.payload.data).toHaveLength(4);
    expect(req.body.payload.data).toContainEqual([
      sha256Hex('one@example.com'),
      '',
      sha256Hex('shopper-1'),
    ]);
    expect(req.body.payload.data).toContainEqual([
      '',
      sha256Hex('15550100002'),
      sha256Hex('browser-2'),
    ]);
    const [job] = (await admin(base, `/api/audiences/${audience}/syncs`)).body.jobs;
    expect(job).toMatchObject({ delivery_id: row.outbox.id, action: 'add', rows: 4 });
    expect(
      job.attempts.map((a: { verdict: string; status_code: number }) => [a.verdict, a.status_code]),
    ).toEqual([
      ['retry', 500],
      ['done', 200],
    ]);
    // The outbox row holds no credentials: they are read from the config when it is sent.
    expect(JSON.stringify(row)).not.toContain('meta-token');
  });

  it('AE04 a second sync sends only who left, as a DELETE batch', async () => {
    clockS += 60;
    await track([
      {
        event_name: 'Purchase',
        user: { user_id: 'shopper-3' },
        properties: { value: 5, currency: 'EUR' },
      },
    ]);
    expect((await admin(base, `/api/audiences/${audience}`)).body.size).toBe(3);
    const s = await sync({ dest_id: 'fb', platform_audience_id: '6000001' });
    expect(s.body).toMatchObject({ added: 0, removed: 1 });
    await finished(s.body.deliveries);
    expect(meta.got).toHaveLength(3);
    const req = request(meta.got[2]);
    expect(schemaErrors('meta_audience_users', req)).toEqual([]);
    expect(req.method).toBe('DELETE');
    expect(req.body.payload.data).toEqual([
      [sha256Hex('three@example.com'), '', sha256Hex('shopper-3')],
    ]);
  });

  it('AE05 TikTok gets segment/mapping batches grouped by the ids each person has', async () => {
    const bad = await sync({ dest_id: 'tt', platform_audience_id: 'seg-9' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('advertiser_id');
    const s = await sync({ dest_id: 'tt', platform_audience_id: 'seg-9', advertiser_id: '7001' });
    expect(s.status).toBe(202);
    expect(s.body).toMatchObject({ added: 2, skipped: 1 });
    await finished(s.body.deliveries);
    // shopper-1 has an email, browser-2 a phone; browser-4 has nothing TikTok can match.
    expect(tiktok.got).toHaveLength(2);
    const reqs = tiktok.got.map(request);
    for (const r of reqs) expect(schemaErrors('tiktok_segment_mapping', r)).toEqual([]);
    expect(reqs.map((r) => r.body.id_schema)).toEqual(
      expect.arrayContaining([['EMAIL_SHA256'], ['PHONE_SHA256']]),
    );
    const phone = reqs.find((r) => r.body.id_schema[0] === 'PHONE_SHA256');
    expect(phone?.body).toMatchObject({
      advertiser_ids: ['7001'],
      action: 'add',
      batch_data: [[{ id: sha256Hex('+15550100002'), audience_ids: ['seg-9'] }]],
    });
  });

  it('AE06 Google gets a Data Manager audienceMembers:ingest request', async () => {
    const s = await sync({ dest_id: 'gg', platform_audience_id: '555' });
    expect(s.status).toBe(202);
    await finished(s.body.deliveries);
    expect(google.got).toHaveLength(1);
    const req = request(google.got[0]);
    expect(schemaErrors('google_audience_members', req)).toEqual([]);
    expect(req.path).toBe('/v1/audienceMembers:ingest');
    expect(req.headers.authorization).toBe('Bearer ya29.token');
    expect(req.body.destinations[0]).toEqual({
      operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' },
      productDestinationId: '555',
    });
    expect(req.body.audienceMembers).toHaveLength(2);
  });

  it('AE07 a destination that cannot take audiences is refused by name', async () => {
    const s = await sync({ dest_id: 'hook', platform_audience_id: '1' });
    expect(s.status).toBe(400);
    expect(s.body.errors[0].field).toBe('dest_id');
    await waitFor(() => true);
  });
});
