import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

const H = 3600;
const D = 86_400;
// Whole seconds, far enough back that the clock can be moved forward two weeks.
const T0 = Math.floor(Date.now() / 1000) - 20 * D;
let clockS = T0;

let server: Server;
let base: string;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir(), {
    nowMs: () => clockS * 1000,
  }));
});
afterAll(async () => server?.close());

/** Sends events at the current clock and waits until memberships reflect them. */
async function track(events: Array<Record<string, unknown>>) {
  const r = await postEvents(
    base,
    events.map((e, i) => ({
      event_id: `ev-${clockS}-${i}-${Math.random()}`,
      event_time: clockS,
      env_id: 'env_t',
      ...e,
    })),
  );
  expect(r.body.errors).toEqual([]);
  await server.services.audiences.settle();
}

async function create(name: string, rules: unknown, extra: Record<string, unknown> = {}) {
  const r = await admin(base, '/api/audiences', 'POST', { env_id: 'env_t', name, rules, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

const isMember = async (id: string, q: string) => {
  const r = await admin(base, `/api/audiences/${id}/members?${q}`);
  expect(r.status).toBe(200);
  return r.body.member as boolean;
};

describe('POST /api/audiences', () => {
  it('AU01 answers { id } for the contract example and shows its definition and size', async () => {
    const id = await create('Cart abandoners', {
      all: [{ event: 'AddToCart', within: '7d' }],
      none: [{ event: 'Purchase', within: '7d' }],
    });
    expect(id).toMatch(/^aud_/);
    const got = await admin(base, `/api/audiences/${id}`);
    expect(got.body).toMatchObject({
      id,
      env_id: 'env_t',
      name: 'Cart abandoners',
      rules: { all: [{ event: 'AddToCart', within: '7d' }] },
      min_export_size: 100,
      size: 0,
    });
  });

  it('AU02 names every bad field: unknown keys and operators, bad windows, unknown env', async () => {
    const r = await admin(base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Bad',
      rules: {
        all: [{ event: 'PageView', within: 'a week', colour: 1 }],
        any: [{ event: 'Purchase', within: '1d', where: { value: { '>>': 3 } } }],
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_rules');
    expect(r.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'rules.all[0].colour',
      'rules.all[0].within',
      'rules.any[0].where.value.>>',
    ]);
    const env = await admin(base, '/api/audiences', 'POST', {
      env_id: 'nope',
      name: 'x',
      rules: { all: [{ event: 'A', within: '1d' }] },
    });
    expect(env.status).toBe(400);
    expect(env.body.errors).toEqual([expect.objectContaining({ field: 'env_id' })]);
    expect((await admin(base, '/api/audiences/aud_nope')).status).toBe(404);
    expect((await admin(base, '/api/audiences/aud_nope/members?user_id=x')).status).toBe(404);
  });
});

describe('membership kept current as events arrive and windows pass', () => {
  let cart: string;
  beforeAll(async () => {
    clockS = T0;
    cart = await create('Cart abandoners 2', {
      all: [{ event: 'AddToCart', within: '7d' }],
      none: [{ event: 'Purchase', within: '7d' }],
    });
  });

  it('AU03 enters on add to cart, leaves on purchase, re-enters when the purchase is 7 d old', async () => {
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(false);
    await track([{ event_name: 'AddToCart', user: { anonymous_id: 'a1' } }]);
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(true);
    clockS += H;
    await track([{ event_name: 'Purchase', user: { anonymous_id: 'a1' } }]);
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(false);
    clockS = T0 + 6 * D;
    await track([{ event_name: 'AddToCart', user: { anonymous_id: 'a1' } }]);
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(false); // purchase 6 d ago still counts
    clockS = T0 + H + 7 * D; // the purchase leaves its window
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(true);
    clockS = T0 + 13 * D; // the second add to cart leaves its window
    expect(await isMember(cart, 'anonymous_id=a1')).toBe(false);
  });

  it('AU04 a user id and every browser id seen with it answer alike; size counts the person once', async () => {
    clockS = T0 + 14 * D;
    await track([{ event_name: 'AddToCart', user: { anonymous_id: 'a2', user_id: 'u2' } }]);
    await track([{ event_name: 'PageView', user: { anonymous_id: 'a3', user_id: 'u2' } }]);
    expect(await isMember(cart, 'user_id=u2')).toBe(true);
    expect(await isMember(cart, 'anonymous_id=a2')).toBe(true);
    expect(await isMember(cart, 'anonymous_id=a3')).toBe(true);
    expect((await admin(base, `/api/audiences/${cart}`)).body.size).toBe(1);
    const bad = await admin(base, `/api/audiences/${cart}/members?user_id=u2&anonymous_id=a2`);
    expect(bad.status).toBe(400);
  });

  it('AU05 the sweep moves people out as windows pass and stores the size over time', async () => {
    clockS = T0 + 14 * D + 7 * D + 1;
    await server.services.audiences.sweep(['env_t']);
    const got = (await admin(base, `/api/audiences/${cart}`)).body;
    expect(got.size).toBe(0);
    const sizes = got.size_history.map((p: { size: number }) => p.size);
    expect(sizes).toContain(1);
    expect(sizes[sizes.length - 1]).toBe(0);
  });

  it('AU06 recompute on demand finds people whose events came before the audience', async () => {
    clockS = T0 + 15 * D;
    await track([
      {
        event_name: 'PageView',
        user: { anonymous_id: 'p1' },
        properties: { url: 'https://shop.example/products/42' },
      },
      { event_name: 'PageView', user: { anonymous_id: 'p2' }, properties: { url: '/cart' } },
      {
        event_name: 'Purchase',
        user: { anonymous_id: 'p3' },
        properties: { value: 150, currency: 'EUR', content_ids: ['sku1'] },
      },
      {
        event_name: 'Purchase',
        user: { anonymous_id: 'p4' },
        properties: { value: 150, currency: 'EUR', content_ids: ['sku2'] },
      },
    ]);
    const viewers = await create('Product viewers', {
      all: [{ event: 'PageView', within: '30d', where: { url: '/products/*' } }],
    });
    expect(await isMember(viewers, 'anonymous_id=p1')).toBe(true);
    expect(await isMember(viewers, 'anonymous_id=p2')).toBe(false);
    const big = await create('Big sku1 buyers or product viewers', {
      any: [
        {
          event: 'Purchase',
          within: '30d',
          where: { value: { '>': 100 }, content_ids: { contains: 'sku1' } },
        },
        { all: [{ event: 'PageView', within: '30d', where: { url: '/products/*' } }] },
      ],
    });
    const members = await Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map((p) => isMember(big, `anonymous_id=${p}`)),
    );
    expect(members).toEqual([true, false, true, false]);
    const r = await admin(base, `/api/audiences/${big}/recompute`, 'POST');
    expect(r.body).toEqual({ id: big, size: 2 });
  });

  it('AU07 saw campaign c1 and did not convert, from impression pixels', async () => {
    clockS = T0 + 16 * D;
    const saw = await create('Saw c1, no purchase', {
      all: [{ touch: 'impression', campaign_id: 'c1', within: '30d' }],
      none: [{ event: 'Purchase', within: '30d' }],
    });
    const hit = (q: string) =>
      fetch(`${base}/i?env_id=env_t&dest_id=dsp1&${q}`, { headers: { 'user-agent': UA } });
    await hit('imp_id=X1&campaign_id=c1&user_id=v1');
    await hit('imp_id=X2&campaign_id=c2&user_id=v2');
    await hit('imp_id=X3&campaign_id=c1&user_id=v3');
    await server.services.pipeline.flush();
    await server.services.audiences.settle();
    await track([
      {
        event_name: 'Purchase',
        user: { user_id: 'v3' },
        properties: { value: 1, currency: 'EUR' },
      },
    ]);
    expect(await isMember(saw, 'user_id=v1')).toBe(true);
    expect(await isMember(saw, 'user_id=v2')).toBe(false);
    expect(await isMember(saw, 'user_id=v3')).toBe(false);
  });
});

describe('editing and deleting audiences', () => {
  let id: string;
  beforeAll(async () => {
    clockS = T0 + 17 * D;
    await track([
      { event_name: 'ViewContent', user: { anonymous_id: 'e1' }, properties: { value: 50 } },
      { event_name: 'ViewContent', user: { anonymous_id: 'e2' }, properties: { value: 500 } },
    ]);
    id = await create('Viewers', { all: [{ event: 'ViewContent', within: '7d' }] });
  });

  it('AU08 new rules are validated like new audiences and nothing changes on a bad edit', async () => {
    const bad = await admin(base, `/api/audiences/${id}`, 'PATCH', {
      rules: { all: [{ event: 'ViewContent', within: 'soon', where: { value: { '~': 1 } } }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_rules');
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'rules.all[0].where.value.~',
      'rules.all[0].within',
    ]);
    const put = await admin(base, `/api/audiences/${id}`, 'PUT', { name: 'Only a name' });
    expect(put.status).toBe(400);
    expect(put.body.errors).toEqual([expect.objectContaining({ field: 'rules' })]);
    const got = (await admin(base, `/api/audiences/${id}`)).body;
    expect(got).toMatchObject({ name: 'Viewers', size: 2 });
  });

  it('AU09 a rules change recomputes every membership; the size history goes on', async () => {
    const before = (await admin(base, `/api/audiences/${id}`)).body.size_history.length;
    clockS += 60;
    const r = await admin(base, `/api/audiences/${id}`, 'PATCH', {
      name: 'Big viewers',
      rules: { all: [{ event: 'ViewContent', within: '7d', where: { value: { '>': 100 } } }] },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, name: 'Big viewers', size: 1 });
    expect(await isMember(id, 'anonymous_id=e1')).toBe(false);
    expect(await isMember(id, 'anonymous_id=e2')).toBe(true);
    const got = (await admin(base, `/api/audiences/${id}`)).body;
    expect(got.rules).toEqual({
      all: [{ event: 'ViewContent', within: '7d', where: { value: { '>': 100 } } }],
    });
    expect(got.size_history.length).toBeGreaterThan(before);
    expect(got.size_history.map((p: { size: number }) => p.size).slice(-2)).toEqual([2, 1]);
    // New events are judged by the new rules.
    await track([
      { event_name: 'ViewContent', user: { anonymous_id: 'e3' }, properties: { value: 101 } },
    ]);
    expect(await isMember(id, 'anonymous_id=e3')).toBe(true);
  });

  it('AU10 PUT replaces the definition; a name-only PATCH keeps the members', async () => {
    const put = await admin(base, `/api/audiences/${id}`, 'PUT', {
      name: 'All viewers',
      rules: { any: [{ event: 'ViewContent', within: '7d' }] },
      min_export_size: 500,
    });
    expect(put.body).toMatchObject({ name: 'All viewers', min_export_size: 500, size: 3 });
    const renamed = await admin(base, `/api/audiences/${id}`, 'PATCH', { name: 'Viewers again' });
    expect(renamed.body).toMatchObject({ name: 'Viewers again', size: 3 });
    expect(await isMember(id, 'anonymous_id=e1')).toBe(true);
  });

  it('AU11 DELETE removes the audience and its members', async () => {
    const r = await admin(base, `/api/audiences/${id}`, 'DELETE');
    expect(r).toEqual({ status: 200, body: { id, deleted: true } });
    expect((await admin(base, `/api/audiences/${id}`)).status).toBe(404);
    expect((await admin(base, `/api/audiences/${id}/members?anonymous_id=e1`)).status).toBe(404);
    expect((await admin(base, `/api/audiences/${id}`, 'DELETE')).status).toBe(404);
    const list = (await admin(base, '/api/audiences?env_id=env_t')).body.audiences;
    expect(list.map((a: { id: string }) => a.id)).not.toContain(id);
    expect(await server.services.store.audienceSize('env_t', id)).toBe(0);
  });
});
