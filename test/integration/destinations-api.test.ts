import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { createServer, type Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  purchase,
  sendAtOnce,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Received, type Receiver, startReceiver } from '../helpers/receiver.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

let receivers: Receiver[] = [];
let running: Server[] = [];

afterEach(async () => {
  for (const s of running) await s.close();
  running = [];
  for (const r of receivers) await r.close().catch(() => undefined);
  receivers = [];
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(() => 200);
  receivers.push(r);
  return r;
}

/**
 * The receivers listen on 127.0.0.1: destinations made through the admin API may send there
 * only because the config file allows it (issue 18).
 */
const local = (raw: unknown) => ({
  ...(raw as Record<string, unknown>),
  allow_private_destinations: ['127.0.0.0/8'],
});

async function start(raw: unknown, dir = tempDir()) {
  const { server, base } = await startPixeltrail(local(raw), dir);
  running.push(server);
  return { server, base, dir };
}

const impression = (base: string, dest: string, impId: string) =>
  fetch(`${base}/i?env_id=env_t&dest_id=${dest}&imp_id=${impId}&campaign_id=c1`, {
    headers: { 'user-agent': UA },
  });

const posts = (r: Receiver, eventId: string) =>
  r.got.filter((g) => g.method === 'POST' && JSON.parse(g.body).event_id === eventId);

/** Waits until the receiver got the event's delivery (at `path`, when given). */
async function arrived(r: Receiver, eventId: string, path?: string): Promise<Received[]> {
  const got = await waitFor(() => {
    const now = posts(r, eventId).filter((g) => !path || g.url === path);
    return now.length > 0 ? now : null;
  }, 20_000);
  return got ?? [];
}

const newWebhook = (url: string, extra: Record<string, unknown> = {}) => ({
  env_id: 'env_t',
  id: 'dsp2',
  type: 'webhook',
  events: ['Purchase'],
  click_window: '7d',
  view_window: '1d',
  timeout: '2s',
  retry: { base_delay: '100ms' },
  // Sent at once, as the harness makes the config file's destinations (helpers/pixeltrail.ts).
  merge_window: 0,
  settings: { url, secret: 'new-secret' },
  ...extra,
});

describe('destinations managed through the admin API', () => {
  it('DA01 a bad destination is refused with 400 naming every bad field, nothing is saved', async () => {
    const hook = await receiver();
    const { base } = await start(testConfig(`${hook.url}/hook`));
    const res = await admin(base, '/api/destinations', 'POST', {
      env_id: 'env_t',
      id: 'bad id!',
      type: 'webhook',
      events: 'Purchase',
      click_window: 'a week',
      settings: { url: 'ftp://x', colour: 'red' },
    });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(
      ['click_window', 'events', 'id', 'settings.colour', 'settings.url'].sort(),
    );
    const unknownType = await admin(base, '/api/destinations', 'POST', {
      env_id: 'env_t',
      id: 'x1',
      type: 'myspace',
    });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.errors[0]).toMatchObject({ field: 'type' });
    expect(unknownType.body.errors[0].message).toMatch(/unknown destination type/);
    // A field sent beside the common ones (the config file's flat form) is named where it was.
    const flat = await admin(base, '/api/destinations', 'POST', {
      env_id: 'env_t',
      id: 'x2',
      type: 'webhook',
      url: 'ftp://flat',
      colour: 'blue',
    });
    expect(flat.status).toBe(400);
    expect(flat.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'colour',
      'url',
    ]);
    const list = await admin(base, '/api/destinations?env_id=env_t');
    expect(list.body.destinations.map((d: { id: string }) => d.id)).toEqual(['dsp1']);
  });

  it('DA02 a created destination is listed with its source, its secret masked, and kept across a restart', async () => {
    const hook = await receiver();
    const dir = tempDir();
    const first = await start(testConfig(`${hook.url}/hook`), dir);
    const created = await admin(first.base, '/api/destinations', 'POST', newWebhook(hook.url));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'dsp2',
      source: 'store',
      settings: { url: hook.url, secret: '****' },
      view_window: '1d',
    });
    expect(JSON.stringify(await admin(first.base, '/api/environments'))).not.toContain(
      'new-secret',
    );
    const again = await admin(first.base, '/api/destinations', 'POST', newWebhook(hook.url));
    expect(again.status).toBe(409);
    await first.server.close();
    running = [];
    const second = await start(testConfig(`${hook.url}/hook`), dir);
    const list = (await admin(second.base, '/api/destinations?env_id=env_t')).body.destinations;
    expect(list.map((d: { id: string; source: string }) => [d.id, d.source])).toEqual([
      ['dsp1', 'file'],
      ['dsp2', 'store'],
    ]);
  });

  it('DA03 a new destination takes pixels and gets its conversions at once; an edit keeps the masked secret and moves it', async () => {
    const hookA = await receiver();
    const hookB = await receiver();
    const hookC = await receiver();
    const { base } = await start(testConfig(`${hookA.url}/hook`));
    // Before it exists the pixel says the destination is unknown.
    const before = await impression(base, 'dsp2', 'IMP-DA3-0');
    expect(before.headers.get('x-pixeltrail-warnings')).toBe('unknown_dest');
    expect(
      (await admin(base, '/api/destinations', 'POST', newWebhook(`${hookB.url}/b`))).status,
    ).toBe(201);
    const hit = await impression(base, 'dsp2', 'IMP-DA3');
    expect(hit.headers.get('x-pixeltrail-warnings')).toBeNull();
    await postEvents(base, [purchase('ord-da3')]);
    const [rec] = await arrived(hookB, 'ord-da3');
    expect(JSON.parse(rec.body)).toMatchObject({
      dest_id: 'dsp2',
      attribution: { type: 'view', imp_id: 'IMP-DA3' },
    });
    expect(rec.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'new-secret').update(rec.body).digest('hex')}`,
    );

    // The dashboard sends back what it was shown: the secret as ****.
    const shown = (await admin(base, '/api/destinations/env_t/dsp2')).body;
    const edited = await admin(base, '/api/destinations/env_t/dsp2', 'PATCH', {
      events: ['Purchase', 'Lead'],
      view_window: '2d',
      settings: { ...shown.settings, url: `${hookC.url}/c` },
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ events: ['Purchase', 'Lead'], view_window: '2d' });
    await impression(base, 'dsp2', 'IMP-DA3-L');
    await postEvents(base, [purchase('lead-da3', { event_name: 'Lead' })]);
    const [lead] = await arrived(hookC, 'lead-da3');
    expect(lead.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'new-secret').update(lead.body).digest('hex')}`,
    );
    expect(posts(hookB, 'lead-da3')).toEqual([]);

    // A webhook has no test channel: a test is a real conversion, sent only when confirmed.
    const unconfirmed = await admin(base, '/api/destinations/env_t/dsp2/test', 'POST');
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.body.error).toMatchObject({ code: 'confirmation_required' });
    expect(hookC.got.some((g) => JSON.parse(g.body).event_id.startsWith('pixeltrail-test-'))).toBe(
      false,
    );
    const test = await admin(base, '/api/destinations/env_t/dsp2/test?confirm=real', 'POST');
    expect(test.body).toMatchObject({
      dest_id: 'dsp2',
      channel: { kind: 'live' },
      real_conversion_recorded: true,
      result: { kind: 'response', status: 200 },
    });
    expect(test.body.note).toMatch(/a real conversion was recorded/);
    expect(hookC.got.some((g) => JSON.parse(g.body).event_id.startsWith('pixeltrail-test-'))).toBe(
      true,
    );
  });

  it('DA04 editing a config-file destination overrides it, revert restores it, deleting it stops its deliveries', async () => {
    const hook = await receiver();
    const { base } = await start(testConfig(`${hook.url}/hook`));
    const res = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', { click_window: '28d' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      source: 'store_override',
      click_window: '28d',
      settings: { secret: '****' },
    });
    const bad = await admin(base, '/api/destinations/env_t/dsp1', 'PUT', {
      type: 'webhook',
      view_window: 'soon',
      timeout: '5m',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(
      ['settings.url', 'timeout', 'view_window'].sort(),
    );
    // The file's secret still signs after the override.
    await impression(base, 'dsp1', 'IMP-DA4');
    await postEvents(base, [purchase('ord-da4')]);
    const [rec] = await arrived(hook, 'ord-da4');
    expect(rec.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 's3cret').update(rec.body).digest('hex')}`,
    );
    // Reverting drops the override: the file's 7d window is back.
    const reverted = await admin(base, '/api/destinations/env_t/dsp1/revert', 'POST');
    expect(reverted.body).toMatchObject({ source: 'file', click_window: '7d' });
    expect((await admin(base, '/api/destinations/env_t/dsp1', 'DELETE')).status).toBe(200);
    expect((await admin(base, '/api/destinations?env_id=env_t')).body.destinations).toEqual([]);
    const gone = await impression(base, 'dsp1', 'IMP-DA4-2');
    expect(gone.headers.get('x-pixeltrail-warnings')).toBe('unknown_dest');
    const after = await postEvents(base, [purchase('ord-da4-2')]);
    expect(after.body.accepted).toBe(1);
    await running[0].services.pipeline.flush();
    expect((await admin(base, '/api/conversions?env_id=env_t')).body.conversions).toHaveLength(1);
  });

  it('DA05 a cookie session must send its CSRF token to change destinations', async () => {
    const hook = await receiver();
    const { base } = await start(testConfig(`${hook.url}/hook`));
    const login = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'adm' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const send = (headers: Record<string, string>) =>
      fetch(`${base}/api/destinations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        body: JSON.stringify(newWebhook(hook.url)),
      });
    expect((await send({})).status).toBe(403);
    expect((await send({ 'x-csrf-token': csrf_token })).status).toBe(201);
    const anon = await fetch(`${base}/api/destinations`);
    expect(anon.status).toBe(401);
  });
});

describe('secrets of saved destinations', () => {
  it('DA08 a secret may name an environment variable, as in the config file', async () => {
    const hook = await receiver();
    const { server, base } = await startPixeltrail(
      local(testConfig(`${hook.url}/hook`)),
      tempDir(),
      {
        secrets: { HOOK_SECRET: 'from-env' },
      },
    );
    running.push(server);
    const missing = await admin(base, '/api/destinations', 'POST', {
      ...newWebhook(hook.url),
      settings: { url: hook.url, secret: 'env:NOT_SET' },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([
      expect.objectContaining({
        field: 'settings.secret',
        message: expect.stringMatching(/NOT_SET/),
      }),
    ]);
    const ok = await admin(base, '/api/destinations', 'POST', {
      ...newWebhook(`${hook.url}/env`),
      settings: { url: `${hook.url}/env`, secret: 'env:HOOK_SECRET' },
    });
    expect(ok.status).toBe(201);
    await impression(base, 'dsp2', 'IMP-DA8');
    await postEvents(base, [purchase('ord-da8')]);
    const [rec] = await arrived(hook, 'ord-da8', '/env');
    expect(rec.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'from-env').update(rec.body).digest('hex')}`,
    );
  });
  it('DA12 editing a destination whose secret names an environment variable keeps the name, never stores the value', async () => {
    const hook = await receiver();
    const { server, base } = await startPixeltrail(
      local(testConfig(`${hook.url}/hook`)),
      tempDir(),
      {
        secrets: { HOOK_SECRET: 'from-env' },
      },
    );
    running.push(server);
    const made = await admin(base, '/api/destinations', 'POST', {
      ...newWebhook(`${hook.url}/env`),
      settings: { url: `${hook.url}/env`, secret: 'env:HOOK_SECRET' },
    });
    expect(made.status).toBe(201);
    const edited = await admin(base, '/api/destinations/env_t/dsp2', 'PATCH', {
      events: ['Purchase', 'Lead'],
    });
    expect(edited.status).toBe(200);
    const saved = (await server.services.store.storedDestinations()).find(
      (r) => r.dest_id === 'dsp2',
    );
    expect(saved?.config).toMatchObject({
      secret: 'env:HOOK_SECRET',
      events: ['Purchase', 'Lead'],
    });
    expect(JSON.stringify(saved?.config)).not.toContain('from-env');
    // The secret sent back masked, and a PUT that leaves it out, keep the reference too.
    const view = (await admin(base, '/api/destinations/env_t/dsp2')).body;
    expect(view.settings.secret).toBe('****');
    const masked = await admin(base, '/api/destinations/env_t/dsp2', 'PATCH', {
      settings: view.settings,
    });
    expect(masked.status).toBe(200);
    expect(JSON.stringify(await server.services.store.storedDestinations())).not.toContain(
      'from-env',
    );
    const put = await admin(base, '/api/destinations/env_t/dsp2', 'PUT', {
      type: 'webhook',
      events: ['Purchase'],
      timeout: '2s',
      retry: { base_delay: '100ms' },
      merge_window: 0,
      settings: { url: `${hook.url}/env` },
    });
    expect(put.status).toBe(200);
    const rows = JSON.stringify(await server.services.store.storedDestinations());
    expect(rows).toContain('env:HOOK_SECRET');
    expect(rows).not.toContain('from-env');
    // Still signs with the environment's value.
    await impression(base, 'dsp2', 'IMP-DA9');
    await postEvents(base, [purchase('ord-da9')]);
    const [rec] = await arrived(hook, 'ord-da9', '/env');
    expect(rec.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'from-env').update(rec.body).digest('hex')}`,
    );
  });
});

describe('secrets of saved destinations at rest', () => {
  const KEY = 'test-secrets-key-0123456789-abcdefghij';

  /** Starts pixeltrail with these environment variables for `env:NAME` secrets. */
  async function startWith(raw: unknown, dir: string, env: Record<string, string>) {
    const { config, errors } = parseConfig(sendAtOnce(local(raw)), {
      port: 0,
      host: '127.0.0.1',
      data_dir: dir,
      secrets: env,
    });
    expect(errors).toEqual([]);
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await createServer(
      { ...config, log_level: 'info' },
      { secrets: env, logStream },
    );
    running.push(server);
    return { server, base: await server.listen(), lines };
  }

  const signedWith = (rec: Received, secret: string) =>
    rec.headers['x-pixeltrail-signature'] ===
    `sha256=${createHmac('sha256', secret).update(rec.body).digest('hex')}`;

  it('DA09 editing a config-file destination whose secret is env:NAME saves the reference, read again at each start', async () => {
    const hook = await receiver();
    const dir = tempDir();
    const raw = testConfig(`${hook.url}/hook`, { secret: 'env:HOOK_SECRET' });
    const first = await startWith(raw, dir, { HOOK_SECRET: 'from-env' });
    const edited = await admin(first.base, '/api/destinations/env_t/dsp1', 'PATCH', {
      view_window: '2d',
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ source: 'store_override', settings: { secret: '****' } });
    const put = await admin(first.base, '/api/destinations/env_t/dsp1', 'PUT', {
      type: 'webhook',
      events: ['Purchase'],
      view_window: '2d',
      merge_window: 0,
      settings: { url: `${hook.url}/hook` },
    });
    expect(put.status).toBe(200);
    const rows = await first.server.services.store.storedDestinations();
    expect(rows[0].config).toMatchObject({ secret: 'env:HOOK_SECRET' });
    expect(JSON.stringify(rows)).not.toContain('from-env');
    await first.server.close();
    running = [];
    // The variable changed: the saved edit signs with the new value, as the file would.
    const second = await startWith(raw, dir, { HOOK_SECRET: 'rotated' });
    await impression(second.base, 'dsp1', 'IMP-DA9');
    await postEvents(second.base, [purchase('ord-da9')]);
    const [rec] = await arrived(hook, 'ord-da9', '/hook');
    expect(signedWith(rec, 'rotated')).toBe(true);
  });

  it('DA10 with secrets_key a saved secret is encrypted in the database, masked in answers and used to sign', async () => {
    const hook = await receiver();
    const dir = tempDir();
    const raw = { ...testConfig(`${hook.url}/hook`), secrets_key: KEY };
    const first = await startWith(raw, dir, {});
    const created = await admin(first.base, '/api/destinations', 'POST', newWebhook(hook.url));
    expect(created.status).toBe(201);
    expect(created.body.settings.secret).toBe('****');
    const rows = await first.server.services.store.storedDestinations();
    expect(JSON.stringify(rows)).not.toContain('new-secret');
    expect(String(rows[0].config?.secret)).toMatch(/^enc:v1:/);
    // An edit that keeps the secret keeps it encrypted too.
    expect(
      (await admin(first.base, '/api/destinations/env_t/dsp2', 'PATCH', { view_window: '2d' }))
        .status,
    ).toBe(200);
    expect(JSON.stringify(await first.server.services.store.storedDestinations())).not.toContain(
      'new-secret',
    );
    await impression(first.base, 'dsp2', 'IMP-DA10');
    await postEvents(first.base, [purchase('ord-da10')]);
    const [rec] = await arrived(hook, 'ord-da10', '/');
    expect(signedWith(rec, 'new-secret')).toBe(true);
    expect(first.lines.join('')).not.toMatch(/stored in clear/);
    await first.server.close();
    running = [];
    // Without the key the destination cannot be used, and the log says why.
    const keyless = await startWith(testConfig(`${hook.url}/hook`), dir, {});
    expect((await admin(keyless.base, '/api/destinations/env_t/dsp2')).status).toBe(404);
    const log = keyless.lines.join('');
    expect(log).toMatch(/dsp2 not used: secret is encrypted, and no secrets_key is configured/);
    expect(log).toMatch(/secrets_key is not set: secrets of destinations .* stored in clear/);
  });

  it('DA11 secrets saved in clear before secrets_key was set are encrypted at the next start', async () => {
    const hook = await receiver();
    const dir = tempDir();
    const before = await startWith(testConfig(`${hook.url}/hook`), dir, {});
    expect(
      (await admin(before.base, '/api/destinations', 'POST', newWebhook(hook.url))).status,
    ).toBe(201);
    expect(JSON.stringify(await before.server.services.store.storedDestinations())).toContain(
      'new-secret',
    );
    await before.server.close();
    running = [];
    const after = await startWith({ ...testConfig(`${hook.url}/hook`), secrets_key: KEY }, dir, {});
    expect(JSON.stringify(await after.server.services.store.storedDestinations())).not.toContain(
      'new-secret',
    );
    await impression(after.base, 'dsp2', 'IMP-DA11');
    await postEvents(after.base, [purchase('ord-da11')]);
    const [rec] = await arrived(hook, 'ord-da11', '/');
    expect(signedWith(rec, 'new-secret')).toBe(true);
  });

  it('DA13 a rotated secrets_key: secrets sealed with the previous key still work and are sealed again with the new one at the next start', async () => {
    const hook = await receiver();
    const dir = tempDir();
    const NEW_KEY = 'rotated-secrets-key-0123456789-klmnopqrst';
    const config = (keys: object) => ({ ...testConfig(`${hook.url}/hook`), ...keys });
    const first = await startWith(config({ secrets_key: KEY }), dir, {});
    expect(
      (await admin(first.base, '/api/destinations', 'POST', newWebhook(hook.url))).status,
    ).toBe(201);
    const [underOld] = await first.server.services.store.storedDestinations();
    await first.server.close();
    running = [];

    const rotating = await startWith(
      config({ secrets_key: NEW_KEY, secrets_key_previous: [KEY] }),
      dir,
      {},
    );
    const [underNew] = await rotating.server.services.store.storedDestinations();
    expect(String(underNew.config?.secret)).toMatch(/^enc:v1:/);
    expect(underNew.config?.secret).not.toBe(underOld.config?.secret);
    expect(rotating.lines.join('')).toMatch(/encrypted again with secrets_key/);
    await impression(rotating.base, 'dsp2', 'IMP-DA13a');
    await postEvents(rotating.base, [purchase('ord-da13a')]);
    expect(signedWith((await arrived(hook, 'ord-da13a', '/'))[0], 'new-secret')).toBe(true);
    await rotating.server.close();
    running = [];

    // Once every process has started with both keys, the old one can go.
    const rotated = await startWith(config({ secrets_key: NEW_KEY }), dir, {});
    expect((await admin(rotated.base, '/api/destinations/env_t/dsp2')).status).toBe(200);
    await impression(rotated.base, 'dsp2', 'IMP-DA13b');
    await postEvents(rotated.base, [purchase('ord-da13b')]);
    expect(signedWith((await arrived(hook, 'ord-da13b', '/'))[0], 'new-secret')).toBe(true);
    expect(rotated.lines.join('')).not.toMatch(/not used/);
  });
});

describe.skipIf(!(await postgresAvailable()))('destinations across processes on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('DA06 a destination made on one server is used by another server on the same store within seconds', async () => {
    const hook = await receiver();
    const raw = { ...testConfig(`${hook.url}/hook`), database_url: db.url };
    const a = await start(raw);
    const b = await start(raw);
    const created = await admin(a.base, '/api/destinations', 'POST', newWebhook(`${hook.url}/2`));
    expect(created.status).toBe(201);
    await waitFor(
      async () => (await admin(b.base, '/api/destinations/env_t/dsp2')).body.source === 'store',
      15_000,
      200,
    );
    await impression(b.base, 'dsp2', 'IMP-DA6');
    await postEvents(b.base, [purchase('ord-da6')]);
    const [rec] = await arrived(hook, 'ord-da6', '/2');
    expect(JSON.parse(rec.body)).toMatchObject({ dest_id: 'dsp2' });
    await admin(b.base, '/api/destinations/env_t/dsp2', 'DELETE');
    await waitFor(
      async () => (await admin(a.base, '/api/destinations/env_t/dsp2')).status === 404,
      15_000,
      200,
    );
  });

  it('DA07 a worker that has not seen a new destination yet looks again before giving its rows up', async () => {
    const hook = await receiver();
    const raw = { ...testConfig(`${hook.url}/hook`), database_url: db.url };
    const a = await start(raw);
    const b = await start(raw);
    // B stops polling, so only the worker's look-before-failing can find the destination.
    await b.server.services.destinations.stop();
    await a.server.services.worker.stop();
    const dest = newWebhook(`${hook.url}/7`, { id: 'dsp7' });
    expect((await admin(a.base, '/api/destinations', 'POST', dest)).status).toBe(201);
    await impression(a.base, 'dsp7', 'IMP-DA7');
    await postEvents(a.base, [purchase('ord-da7')]);
    const [rec] = await arrived(hook, 'ord-da7', '/7');
    expect(JSON.parse(rec.body)).toMatchObject({ dest_id: 'dsp7' });
    const status = async () =>
      (await admin(b.base, '/api/deliveries?env_id=env_t&dest_id=dsp7')).body.deliveries.map(
        (r: { status: string }) => r.status,
      );
    await waitFor(async () => (await status()).join() !== 'pending', 10_000);
    expect(await status()).toEqual(['delivered']);
  });
});
