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
import { deliveriesSettled } from '../helpers/settled.js';

const HOUR_MS = 3_600_000;
const OUTAGE_MS = 6 * HOUR_MS;

let receivers: Receiver[] = [];
let running: Server | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
  for (const r of receivers) await r.close().catch(() => undefined);
  receivers = [];
});

interface Row {
  id: number;
  dest_id: string;
  status: string;
  attempts: number;
  next_attempt_at_ms: number;
}

interface Attempt {
  at_ms: number;
  verdict: string;
  status_code: number | null;
}

const eventIdOf = (body: string) => JSON.parse(body).event_id as string;

describe('a destination that is down for hours (injected clock)', () => {
  it('F03 down 6 h then back: each conversion delivered once, in order, backoff in the log; a permanent failure dead-letters and is replayed', async () => {
    const start = Date.now();
    let clock = start;
    const dsp = await startReceiver(() => 200);
    await dsp.stop();
    let dlqUp = false;
    const dlq = await startReceiver(() => (dlqUp ? 200 : 500));
    receivers = [dsp, dlq];
    const config = testConfig(`${dsp.url}/hook`, {
      events: ['Purchase'],
      retry: { base_delay: '1s' },
    });
    config.environments[0].destinations.push({
      ...config.environments[0].destinations[0],
      id: 'dsp2',
      url: `${dlq.url}/hook`,
      events: ['Lead'],
      attributed_only: false,
      retry: { base_delay: '1s', max_attempts: 4 },
    } as (typeof config.environments)[0]['destinations'][0]);
    const { server, base } = await startPixeltrail(config, tempDir(), { nowMs: () => clock });
    running = server;
    const wake = () => server.services.worker.wake();

    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-O1`, {
      headers: { 'user-agent': UA },
    });
    await server.services.pipeline.flush();
    const ids = Array.from({ length: 12 }, (_, i) => `ord-o${String(i).padStart(2, '0')}`);
    for (const id of ids.slice(0, 8))
      expect((await postEvents(base, [purchase(id)])).status).toBe(200);
    expect((await postEvents(base, [purchase('lead-1', { event_name: 'Lead' })])).status).toBe(200);

    const rows = async (dest: string): Promise<Row[]> =>
      (await admin(base, `/api/deliveries?dest_id=${dest}&limit=100`)).body.deliveries;
    const totalAttempts = async () =>
      [...(await rows('dsp1')), ...(await rows('dsp2'))].reduce((n, r) => n + r.attempts, 0);

    // Advance the clock to each next due attempt and let the worker make it, until 6 h are
    // over; new conversions keep arriving halfway through.
    let addedLate = false;
    for (;;) {
      const pending = [...(await rows('dsp1')), ...(await rows('dsp2'))].filter(
        (r) => r.status === 'pending' && r.next_attempt_at_ms > clock,
      );
      const due = Math.min(...pending.map((r) => r.next_attempt_at_ms));
      if (pending.length === 0 || due > start + OUTAGE_MS) break;
      if (!addedLate && due > start + OUTAGE_MS / 2) {
        addedLate = true;
        for (const id of ids.slice(8)) await postEvents(base, [purchase(id)]);
      }
      const before = await totalAttempts();
      clock = due;
      wake();
      await waitFor(async () => (await totalAttempts()) > before);
    }
    expect(addedLate).toBe(true);
    expect(dsp.got).toHaveLength(0);

    // The permanently failing destination dead-lettered after its 4 attempts.
    const [dead] = await rows('dsp2');
    expect(dead).toMatchObject({ status: 'dead', attempts: 4 });
    expect(dlq.got).toHaveLength(4);

    // The receiver comes back after 6 h.
    await dsp.start();
    clock = start + OUTAGE_MS + 1;
    const head = (await rows('dsp1')).find((r) => r.attempts > 0) as Row;
    clock = Math.max(clock, head.next_attempt_at_ms);
    wake();
    await waitFor(async () => (await rows('dsp1')).every((r) => r.status === 'delivered'), 15_000);
    await deliveriesSettled(server);
    expect(dsp.got.map((g) => eventIdOf(g.body))).toEqual(ids);

    // Only the head row was retried through the outage; its log shows the backoff.
    const dsp1Rows = await rows('dsp1');
    expect(dsp1Rows).toHaveLength(12);
    const behind = dsp1Rows.filter((r) => r.id !== head.id);
    expect(behind.every((r) => r.attempts === 1)).toBe(true);
    const log: Attempt[] = (await admin(base, `/api/deliveries/${head.id}`)).body.attempts;
    expect(log.at(-1)).toMatchObject({ verdict: 'done', status_code: 200 });
    const retries = log.slice(0, -1);
    expect(retries.every((a) => a.verdict === 'retry' && a.status_code === null)).toBe(true);
    expect(retries.length).toBeGreaterThan(8);
    expect(retries.length).toBeLessThan(30);
    const gaps = log.slice(1).map((a, i) => a.at_ms - log[i].at_ms);
    const beforeCap = gaps.filter((g) => g < HOUR_MS / 2);
    for (let i = 1; i < beforeCap.length; i++)
      expect(beforeCap[i]).toBeGreaterThanOrEqual(beforeCap[i - 1]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(HOUR_MS);
    expect(log.at(-1)!.at_ms - log[0].at_ms).toBeGreaterThanOrEqual(OUTAGE_MS);

    // The dead letter is replayed once its receiver is fixed, under the same key.
    dlqUp = true;
    expect((await admin(base, `/api/deliveries/${dead.id}/retry`, 'POST')).status).toBe(200);
    await waitFor(async () => (await rows('dsp2'))[0].status === 'delivered');
    expect(dlq.got).toHaveLength(5);
    expect(new Set(dlq.got.map((g) => g.headers['idempotency-key'])).size).toBe(1);
    expect(dsp.got).toHaveLength(12);
  });
});
