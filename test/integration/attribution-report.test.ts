import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputePaths } from '../../src/reports/recompute-paths.js';
import type { Server } from '../../src/server.js';
import { runCli, writeConfig } from '../helpers/child-server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const H = 3600;
const D = 86_400;
// Whole seconds, a little in the past, so the purchase 2 d + 1 h later is not in the future.
const T0 = Math.floor(Date.now() / 1000) - 3 * D;
let clockS = T0;

let hook: Receiver;
let server: Server;
let base: string;
let dataDir: string;
let config: ReturnType<typeof testConfig>;

const hit = (path: string) =>
  fetch(`${base}${path}`, { headers: { 'user-agent': UA }, redirect: 'manual' });

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  dataDir = tempDir();
  config = testConfig(`${hook.url}/hook`);
  ({ server, base } = await startPixeltrail(config, dataDir, { nowMs: () => clockS * 1000 }));
  // u1 sees c1, clicks c2 a day later, sees c3 a day after that, buys an hour later.
  await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=I1&campaign_id=c1&user_id=u1');
  clockS += D;
  await hit(
    '/c?env_id=env_t&dest_id=dsp1&click_id=K1&campaign_id=c2&user_id=u1&url=https://shop.example/',
  );
  clockS += D;
  await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=I3&campaign_id=c3&user_id=u1');
  await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=I9&campaign_id=c9&user_id=someone-else');
  clockS += H;
  await server.services.pipeline.flush();
  const r = await postEvents(base, [
    {
      event_name: 'Purchase',
      event_id: 'ord-mta-1',
      event_time: clockS,
      env_id: 'env_t',
      user: { user_id: 'u1' },
      properties: { value: 120, currency: 'EUR' },
    },
  ]);
  expect(r.body.accepted).toBe(1);
});

afterAll(async () => {
  await server?.close();
  await hook.close();
});

const range = () => `from=${T0 - D}&to=${new Date((clockS + D) * 1000).toISOString()}`;
const report = (model: string) =>
  admin(base, `/api/reports/attribution?env_id=env_t&model=${model}&${range()}&by=campaign`);

function revenue(rows: Array<{ campaign_id: string; revenue: number }>) {
  return Object.fromEntries(rows.map((r) => [r.campaign_id, r.revenue]));
}

describe('GET /api/reports/attribution', () => {
  it('AR01 last touch credits the click, first touch the first impression', async () => {
    const last = await report('last_touch');
    expect(last.status).toBe(200);
    expect(last.body).toMatchObject({
      model: 'last_touch',
      rows: [{ campaign_id: 'c2', conversions: 1, revenue: 120 }],
    });
    expect((await report('first_touch')).body.rows).toMatchObject([
      {
        campaign_id: 'c1',
        conversions: 1,
        revenue: 120,
        revenue_by_currency: { EUR: 120 },
        unconverted_revenue: {},
      },
    ]);
  });

  it('AR02 linear, position based and time decay split 120 as worked by hand', async () => {
    expect(revenue((await report('linear')).body.rows)).toEqual({ c1: 40, c2: 40, c3: 40 });
    expect(revenue((await report('position_based')).body.rows)).toEqual({
      c1: 48,
      c2: 24,
      c3: 48,
    });
    // Ages 49 h, 25 h, 1 h with a 7 d half-life.
    const w = [49, 25, 1].map((h) => 2 ** (-h / (7 * 24)));
    const s = w[0] + w[1] + w[2];
    const decay = revenue((await report('time_decay')).body.rows);
    expect(decay.c1).toBeCloseTo((120 * w[0]) / s, 5);
    expect(decay.c3).toBeCloseTo((120 * w[2]) / s, 5);
    expect(decay.c1 + decay.c2 + decay.c3).toBeCloseTo(120, 5);
    // A 1 h half-life leaves nearly everything to the last hour's touch.
    const short = await admin(
      base,
      `/api/reports/attribution?env_id=env_t&model=time_decay&${range()}&half_life=1h`,
    );
    expect(revenue(short.body.rows).c3).toBeGreaterThan(119);
  });

  it('AR03 data driven on one converting journey weighs the three campaigns alike', async () => {
    const dd = (await report('data_driven')).body.rows;
    expect(dd.map((r: { conversions: number }) => r.conversions)).toEqual([
      0.333333, 0.333333, 0.333333,
    ]);
  });

  it('AR04 model=all puts every model side by side per campaign', async () => {
    const all = await report('all');
    expect(all.status).toBe(200);
    const c1 = all.body.rows.find((r: { campaign_id: string }) => r.campaign_id === 'c1');
    expect(c1.first_touch).toMatchObject({
      conversions: 1,
      revenue: 120,
      revenue_by_currency: { EUR: 120 },
      unconverted_revenue: {},
    });
    expect(c1.last_touch).toMatchObject({
      conversions: 0,
      revenue: 0,
      revenue_by_currency: {},
      unconverted_revenue: {},
    });
    expect(c1.linear.revenue).toBe(40);
  });

  it('AR05 names bad fields: unknown model, by, half_life, from; unknown env is 404', async () => {
    const bad = await admin(
      base,
      `/api/reports/attribution?env_id=env_t&model=magic&by=creative&half_life=soon&${range()}`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'model',
      'by',
      'half_life',
    ]);
    const badFrom = await admin(base, '/api/reports/attribution?env_id=env_t&from=yesterday&to=1');
    expect(badFrom.status).toBe(400);
    expect(badFrom.body.errors[0].field).toBe('from');
    const env = await admin(base, `/api/reports/attribution?env_id=nope&${range()}`);
    expect(env.status).toBe(404);
    const noAuth = await fetch(`${base}/api/reports/attribution?env_id=env_t&${range()}`);
    expect(noAuth.status).toBe(401);
  });

  it('AR06 a range without the conversion has no rows', async () => {
    const r = await admin(
      base,
      `/api/reports/attribution?env_id=env_t&model=linear&from=${T0 - 9 * D}&to=${T0 - 8 * D}`,
    );
    expect(r.body).toMatchObject({ rows: [], conversions: 0 });
  });
});

describe('conversion path', () => {
  it('CP01 lists every touch with its time and match key, oldest first', async () => {
    const list = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions;
    const id = list.find((c: { event_id: string }) => c.event_id === 'ord-mta-1').conversion_id;
    const p = await admin(base, `/api/conversions/${id}/path?env_id=env_t`);
    expect(p.status).toBe(200);
    expect(p.body.touches).toEqual([
      expect.objectContaining({
        touch_id: 'I1',
        campaign_id: 'c1',
        time: T0,
        match_key: 'user_id',
      }),
      expect.objectContaining({ touch_id: 'K1', kind: 'click', time: T0 + D }),
      expect.objectContaining({ touch_id: 'I3', time: T0 + 2 * D }),
    ]);
    expect((await admin(base, '/api/conversions/cv_nope/path?env_id=env_t')).status).toBe(404);
  });
});

describe('attribution recompute', () => {
  it('RC01 after the windows shrink to 1 d, the re-credited range keeps only the last touch', async () => {
    const env = structuredClone(server.services.config.environments[0]);
    env.destinations[0].click_window_ms = D * 1000;
    const seen: Array<[number, number]> = [];
    const n = await recomputePaths(
      server.services.store,
      env,
      T0 - D,
      clockS + D,
      () => clockS * 1000,
      (done, total) => seen.push([done, total]),
    );
    expect(n).toBe(1);
    expect(seen).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect((await report('linear')).body.rows).toMatchObject([
      {
        campaign_id: 'c3',
        conversions: 1,
        revenue: 120,
        revenue_by_currency: { EUR: 120 },
        unconverted_revenue: {},
      },
    ]);
  });

  it('RC02 the CLI command rebuilds the paths with the config windows and shows progress', async () => {
    await server.close();
    const file = writeConfig(dataDir, config);
    const r = await runCli(
      [
        'attribution',
        'recompute',
        '--env',
        'env_t',
        '--from',
        String(T0 - D),
        '--to',
        String(clockS + D),
      ],
      { PIXELTRAIL_CONFIG: file, PIXELTRAIL_DATA: dataDir },
    );
    expect(r.stderr).toContain('recompute 100% (1/1)');
    expect(r.stdout).toContain('recomputed 1 conversion paths of env_t');
    expect(r.code).toBe(0);
    // Back on the 7 d click window: three touches again.
    ({ server, base } = await startPixeltrail(config, dataDir, { nowMs: () => clockS * 1000 }));
    expect(revenue((await report('linear')).body.rows)).toEqual({ c1: 40, c2: 40, c3: 40 });
  });
});
