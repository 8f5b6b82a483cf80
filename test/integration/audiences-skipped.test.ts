import { describe, expect, it, vi } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postUserEvent,
  startedPerTest,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

// Traffic an environment's audiences do not read is let pass unevaluated and remembered until
// the next reload of definitions (AudienceService.noteEvents / noteTouches), on SQLite.

const startPixeltrail = startedPerTest();

async function start(dataDir = tempDir()) {
  const { server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), dataDir);
  // Polls are driven by the tests, one at a time.
  await server.services.audiences.stop();
  return { server, base, dataDir };
}

async function track(base: string, server: Server, event_name: string, user_id: string) {
  await postUserEvent(base, event_name, user_id);
  await server.services.pipeline.flush();
  await server.services.audiences.settle();
}

let imp = 0;
async function pixel(base: string, server: Server) {
  const r = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=sk${imp++}&user_id=p1`, {
    headers: { 'user-agent': UA },
  });
  expect(r.status).toBeLessThan(400);
  await server.services.pipeline.flush();
  await server.services.audiences.settle();
}

async function create(base: string, name: string, rules: unknown) {
  const r = await admin(base, '/api/audiences', 'POST', { env_id: 'env_t', name, rules });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

describe('audiences and the traffic they let pass, on SQLite', () => {
  // Each poll after the change recomputed every audience of the environment, and each
  // recompute moved the version the next poll saw: a recompute every 2 s, for ever.
  it('AU16 one audience change under steady touches and events recomputes nothing at later polls', async () => {
    const { server, base } = await start();
    const aud = server.services.audiences;
    const signups = await create(base, 'Signups', { all: [{ event: 'SignUp', within: '7d' }] });
    await track(base, server, 'PageView', 'u1');
    await pixel(base, server);
    await create(base, 'Leads', { all: [{ event: 'Lead', within: '7d' }] });
    const recomputes = vi.spyOn(server.services.store, 'markAudienceRecomputed');
    const stamp = async () => (await admin(base, `/api/audiences/${signups}`)).body.recomputed_at;
    // The poll that sees the change rereads the definitions (and the stamp the create left).
    await pixel(base, server);
    await aud.poll();
    await aud.settle();
    const before = { stamp: await stamp(), count: recomputes.mock.calls.length };
    // Both audiences were computed here after the traffic let pass so far.
    expect(before.count).toBe(0);
    for (let i = 0; i < 4; i++) {
      await pixel(base, server);
      await track(base, server, 'PageView', 'u1');
      await pixel(base, server);
      await aud.poll();
      await aud.settle();
      expect({ stamp: await stamp(), count: recomputes.mock.calls.length }).toEqual(before);
    }
  });

  // AU15 on PostgreSQL (audiences-multi-process.test.ts); here two servers over one SQLite file.
  it('AU15s events a server let pass while it knew no audience are evaluated once it sees one created', async () => {
    const a = await start();
    const b = await start(a.dataDir);
    await track(b.base, b.server, 'PageView', 'u-early');
    const id = await create(a.base, 'Signups late', { all: [{ event: 'SignUp', within: '7d' }] });
    // Committed after A computed the members, and let pass by B: nobody evaluated it yet.
    await track(b.base, b.server, 'SignUp', 'u-gap');
    const member = async () =>
      (await admin(a.base, `/api/audiences/${id}/members?user_id=u-gap`)).body.member;
    expect(await member()).toBe(false);
    await b.server.services.audiences.poll();
    await b.server.services.audiences.settle();
    expect(await member()).toBe(true);
  });

  it('AU17 touches a server let pass while no audience read them are evaluated once it sees an audience edited to read them', async () => {
    const a = await start();
    const b = await start(a.dataDir);
    const id = await create(a.base, 'Visitors', { all: [{ event: 'PageView', within: '7d' }] });
    // B reads the environment: one audience, no touch condition.
    await track(b.base, b.server, 'PageView', 'u-seen');
    const patched = await admin(a.base, `/api/audiences/${id}`, 'PATCH', {
      rules: { all: [{ touch: 'impression', within: '7d' }] },
    });
    expect(patched.status).toBe(200);
    // Committed after A recomputed under the new rules, and let pass by B.
    await pixel(b.base, b.server);
    const member = async () =>
      (await admin(a.base, `/api/audiences/${id}/members?user_id=p1`)).body.member;
    expect(await member()).toBe(false);
    await b.server.services.audiences.poll();
    await b.server.services.audiences.settle();
    expect(await member()).toBe(true);
  });
});
