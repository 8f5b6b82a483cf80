import { afterEach, describe, expect, it } from 'vitest';
import { type ChildServer, runCli, startChild, writeConfig } from '../helpers/child-server.js';
import {
  admin,
  postEvents,
  purchase,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

let hook: Receiver | undefined;
let servers: ChildServer[] = [];

afterEach(async () => {
  for (const s of servers) await s.stop();
  servers = [];
  await hook?.close().catch(() => undefined);
});

const posts = (eventId: string) => hook!.got.filter((g) => JSON.parse(g.body).event_id === eventId);

describe('the serve process across crashes and commands', () => {
  it('L01 SIGKILL while a delivery is retrying loses nothing: delivered once after restart', async () => {
    let failing = true;
    hook = await startReceiver(() => (failing ? 503 : 200));
    const dir = tempDir();
    const cfg = writeConfig(
      dir,
      testConfig(`${hook.url}/hook`, { retry: { base_delay: '200ms' } }),
    );
    const first = await startChild(cfg, `${dir}/data`);
    servers.push(first);
    await fetch(`${first.base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-K1`, {
      headers: { 'user-agent': UA },
    });
    const r = await postEvents(
      first.base,
      Array.from({ length: 20 }, (_, i) => purchase(`ord-k${i}`)),
    );
    expect(r.body.accepted).toBe(20);
    // The first conversion is retried; the 19 behind it wait their turn, in order.
    await waitFor(() => hook!.got.length >= 3);
    await first.kill9();
    servers = [];
    failing = false;
    const since = Date.now();
    const second = await startChild(cfg, `${dir}/data`);
    servers.push(second);
    // Settled: all 20 delivered and none pending, so no further send can come (a row is
    // recorded delivered only after the receiver answered it).
    await waitFor(async () => {
      const s = (await admin(second.base, '/api/stats')).body;
      return s.outbox_delivered === 20 && s.outbox_pending === 0;
    }, 20_000);
    for (let i = 0; i < 20; i++) {
      expect(
        posts(`ord-k${i}`).filter((g) => g.at >= since),
        `ord-k${i}`,
      ).toHaveLength(1);
    }
  });

  it('L02 SIGTERM flushes accepted pixel hits before exiting', async () => {
    hook = await startReceiver(() => 200);
    const dir = tempDir();
    const cfg = writeConfig(dir, testConfig(`${hook.url}/hook`));
    const first = await startChild(cfg, `${dir}/data`);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        fetch(`${first.base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-T${i}`, {
          headers: { 'user-agent': UA },
        }),
      ),
    );
    await first.stop();
    const second = await startChild(cfg, `${dir}/data`);
    servers.push(second);
    expect((await admin(second.base, '/api/stats')).body.impressions).toBe(300);
  });

  it('L03 `pixeltrail replay` re-sends a time range to a destination', async () => {
    hook = await startReceiver(() => 200);
    const dir = tempDir();
    const cfg = writeConfig(dir, testConfig(`${hook.url}/hook`));
    const srv = await startChild(cfg, `${dir}/data`);
    await fetch(`${srv.base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-R1`, {
      headers: { 'user-agent': UA },
    });
    await postEvents(srv.base, [purchase('ord-r1'), purchase('ord-r2')]);
    await waitFor(() => hook!.got.length === 2);
    await srv.stop();
    const env = { PIXELTRAIL_CONFIG: cfg, PIXELTRAIL_DATA: `${dir}/data` };
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const out = await runCli(
      ['replay', '--env', 'env_t', '--dest', 'dsp1', '--from', from, '--to', to],
      env,
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/queued 2 conversions/);
    expect(hook.got).toHaveLength(4);
    expect(posts('ord-r1')[0].headers['idempotency-key']).toBe(
      posts('ord-r1')[1].headers['idempotency-key'],
    );
    const bad = await runCli(
      ['replay', '--env', 'env_t', '--dest', 'nope', '--from', from, '--to', to],
      env,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dest must name a destination/);
  });

  it('L04 a bad config stops the start with every bad field named', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, {
      environments: [
        { id: 'e', write_key: 'k', destinations: [{ id: 'd', type: 'fax', url: 'x' }] },
      ],
    });
    const out = await runCli(['migrate'], {
      PIXELTRAIL_CONFIG: cfg,
      PIXELTRAIL_DATA: `${dir}/data`,
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/admin_token: must be a non-empty string/);
    expect(out.stderr).toMatch(
      /environments\[0\]\.destinations\[0\]\.type: unknown destination type "fax"/,
    );
  });

  it('L05 `pixeltrail destinations test` sends one test purchase and prints the answer', async () => {
    let status = 200;
    hook = await startReceiver(() => status);
    const dir = tempDir();
    const cfg = writeConfig(dir, testConfig(`${hook.url}/hook`));
    const env = { PIXELTRAIL_CONFIG: cfg, PIXELTRAIL_DATA: `${dir}/data` };
    const ok = await runCli(['destinations', 'test', 'dsp1', '--confirm', 'real'], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      dest_id: 'dsp1',
      result: { status: 200 },
      reading: { verdicts: [{ action: 'done' }] },
    });
    expect(hook.got).toHaveLength(1);
    status = 401;
    const bad = await runCli(['destinations', 'test', 'dsp1', '--confirm', 'real'], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).reading.verdicts[0].action).toBe('pause');
    const none = await runCli(['destinations', 'test', 'nope'], env);
    expect(none.code).toBe(2);
  });
});
