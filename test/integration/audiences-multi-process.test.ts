import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  postUserEvent,
  startedPerTest,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const startPixeltrail = startedPerTest();

describe.skipIf(!(await postgresAvailable()))('audiences across processes on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function start() {
    const raw = { ...testConfig('http://127.0.0.1:9/hook'), database_url: db.url };
    return startPixeltrail(raw, tempDir());
  }

  const track = postUserEvent;

  // Without the version poll, the other process kept its copy until the minute's sweep.
  it('AU12 an edit and a delete made on one server reach another server on the same store within seconds', async () => {
    const a = await start();
    const b = await start();
    const created = await admin(a.base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Carts',
      rules: { all: [{ event: 'AddToCart', within: '7d' }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // B reads the audience and evaluates a person with it, so it holds its own copy.
    expect((await admin(b.base, `/api/audiences/${id}`)).body.name).toBe('Carts');
    await track(b.base, 'AddToCart', 'u-cart');
    await waitFor(
      async () => (await admin(b.base, `/api/audiences/${id}/members?user_id=u-cart`)).body.member,
      15_000,
      100,
    );

    const edited = await admin(a.base, `/api/audiences/${id}`, 'PATCH', {
      name: 'Leads',
      rules: { all: [{ event: 'Lead', within: '7d' }] },
    });
    expect(edited.status).toBe(200);
    await waitFor(
      async () => (await admin(b.base, `/api/audiences/${id}`)).body.name === 'Leads',
      15_000,
      100,
    );
    expect((await admin(b.base, `/api/audiences/${id}`)).body.rules).toEqual({
      all: [{ event: 'Lead', within: '7d' }],
    });
    // B now evaluates new arrivals under the new rules.
    await track(b.base, 'Lead', 'u-lead');
    await waitFor(
      async () => (await admin(b.base, `/api/audiences/${id}/members?user_id=u-lead`)).body.member,
      15_000,
      100,
    );

    expect((await admin(a.base, `/api/audiences/${id}`, 'DELETE')).status).toBe(200);
    await waitFor(
      async () => (await admin(b.base, `/api/audiences/${id}`)).status === 404,
      15_000,
      100,
    );
    expect((await admin(b.base, `/api/audiences/${id}/members?user_id=u-lead`)).status).toBe(404);
  });

  it('AU13 an audience created on one server is evaluated by another that already read the environment', async () => {
    const a = await start();
    const b = await start();
    // B learns the environment has no audience yet, and skips its traffic for audiences.
    await track(b.base, 'PageView', 'u-early');
    await b.server.services.audiences.settle();
    const created = await admin(a.base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Signups',
      rules: { all: [{ event: 'SignUp', within: '7d' }] },
    });
    const id = created.body.id as string;
    await waitFor(
      async () => {
        await track(b.base, 'SignUp', 'u-new');
        await b.server.services.audiences.settle();
        return (await admin(a.base, `/api/audiences/${id}/members?user_id=u-new`)).body.member;
      },
      15_000,
      500,
    );
  });

  it('AU15 events a server let pass while it knew no audience are evaluated once it sees one created', async () => {
    const a = await start();
    const b = await start();
    await track(b.base, 'PageView', 'u-early');
    await b.server.services.audiences.settle();
    // B polls no more: it still knows the environment as having no audience.
    await b.server.services.audiences.stop();
    const created = await admin(a.base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Signups late',
      rules: { all: [{ event: 'SignUp', within: '7d' }] },
    });
    const id = created.body.id as string;
    // Committed after A computed the members, and let pass by B: nobody evaluated it yet.
    await track(b.base, 'SignUp', 'u-gap');
    await b.server.services.audiences.settle();
    const member = async () =>
      (await admin(a.base, `/api/audiences/${id}/members?user_id=u-gap`)).body.member;
    expect(await member()).toBe(false);
    await b.server.services.audiences.poll();
    await b.server.services.audiences.settle();
    expect(await member()).toBe(true);
  });

  it('AU14 answers another server wrote under the old rules are evaluated again once it sees the edit', async () => {
    const a = await start();
    const b = await start();
    const created = await admin(a.base, '/api/audiences', 'POST', {
      env_id: 'env_t',
      name: 'Carts',
      rules: { all: [{ event: 'AddToCart', within: '7d' }] },
    });
    const id = created.body.id as string;
    // B holds the old definition and, polling no more, keeps it while A edits.
    expect((await admin(b.base, `/api/audiences/${id}`)).status).toBe(200);
    await b.server.services.audiences.stop();
    expect(
      (
        await admin(a.base, `/api/audiences/${id}`, 'PATCH', {
          rules: { all: [{ event: 'Lead', within: '7d' }] },
        })
      ).status,
    ).toBe(200);
    await track(b.base, 'AddToCart', 'u-stale');
    await b.server.services.audiences.settle();
    const member = async () =>
      (await admin(a.base, `/api/audiences/${id}/members?user_id=u-stale`)).body.member;
    // What B wrote under the old rules, after A had recomputed under the new ones.
    expect(await member()).toBe(true);
    await b.server.services.audiences.poll();
    await b.server.services.audiences.settle();
    expect(await member()).toBe(false);
  });
});
