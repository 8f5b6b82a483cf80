import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';

// Issue 24: `view_requires_viewable` — a destination that credits viewable impressions only,
// set in the config file or through the admin API, explained by the debugger.
let server: Server;
let base: string;

beforeAll(async () => {
  const raw = testConfig('http://127.0.0.1:9/hook') as {
    environments: Array<{ destinations: Array<Record<string, unknown>> }>;
  };
  const dsp1 = raw.environments[0].destinations[0];
  raw.environments[0].destinations.push({ ...dsp1, id: 'dspV', view_requires_viewable: true });
  ({ server, base } = await startPixeltrail(raw, tempDir()));
});
afterAll(async () => {
  await server.close();
});

/** Shows an ad through the viewability tag's signals; answers the browser's ptid. */
async function showAd(dest: string, impId: string, verdict: string | null, cookie?: string) {
  const q = `env_id=env_t&dest_id=${dest}&imp_id=${impId}&campaign_id=c1`;
  const headers = { 'user-agent': UA, ...(cookie ? { cookie: `ptid=${cookie}` } : {}) };
  const served = await fetch(`${base}/v?${q}&served=1&measurable=1`, { method: 'POST', headers });
  const set = /ptid=([^;]+)/.exec(served.headers.get('set-cookie') ?? '')?.[1];
  if (verdict) await fetch(`${base}/v?${q}&${verdict}`, { method: 'POST', headers });
  return cookie ?? (set as string);
}

const NOT_VIEWABLE = 'measurable=1&viewable=0&max_share=0.30';
const VIEWABLE = 'viewable=1&ttv_ms=1200&max_share=1.00';

async function buy(eventId: string, ptid: string) {
  await server.services.pipeline.flush();
  const r = await postEvents(base, [
    {
      event_name: 'Purchase',
      event_id: eventId,
      user: { anonymous_id: ptid },
      properties: { value: 10, currency: 'EUR' },
    },
  ]);
  expect(r.body.accepted).toBe(1);
  const { body } = await admin(base, '/api/conversions?env_id=env_t&limit=1000');
  const of = (dest: string) =>
    body.conversions.find(
      (c: { event_id: string; dest_id: string }) => c.event_id === eventId && c.dest_id === dest,
    );
  return { dsp1: of('dsp1'), dspV: of('dspV') };
}

describe('view_requires_viewable', () => {
  it('VC01 a purchase after a never-viewable impression: credited under the default, not under the option', async () => {
    const ptid = await showAd('dsp1', 'IMP-VC1a', NOT_VIEWABLE);
    await showAd('dspV', 'IMP-VC1b', NOT_VIEWABLE, ptid);
    const { dsp1, dspV } = await buy('ord-vc1', ptid);
    expect(dsp1.attribution).toMatchObject({
      type: 'view',
      imp_id: 'IMP-VC1a',
      match_key: 'cookie',
    });
    expect(dspV.attribution).toBeNull();
    expect(dspV.reason).toBe(
      'impression IMP-VC1b was served but never viewable (at most 30 % of it in view)',
    );
  });

  it('VC02 a viewable impression earns the credit, whichever came first, signal or touch', async () => {
    const ptid = await showAd('dsp1', 'IMP-VC2a', null);
    // The verdict before the served impression (another process took it first).
    await fetch(`${base}/v?env_id=env_t&dest_id=dspV&imp_id=IMP-VC2b&${VIEWABLE}`, {
      method: 'POST',
      headers: { 'user-agent': UA },
    });
    await server.services.pipeline.flush();
    await showAd('dspV', 'IMP-VC2b', null, ptid);
    const { dspV } = await buy('ord-vc2', ptid);
    expect(dspV.attribution).toMatchObject({ type: 'view', imp_id: 'IMP-VC2b' });
  });

  it("VC03 the debugger explains the non-credit and shows each impression's viewability", async () => {
    const ptid = await showAd('dspV', 'IMP-9', NOT_VIEWABLE);
    await buy('ord-vc3', ptid);
    const { body: list } = await admin(base, '/api/events?env_id=env_t&event_name=Purchase');
    const pk = list.events.find(
      (e: { event: { event_id: string } }) => e.event.event_id === 'ord-vc3',
    ).pk;
    const { body } = await admin(base, `/api/events/${pk}`);
    const v = body.conversions.find((c: { dest_id: string }) => c.dest_id === 'dspV');
    expect(v.explanation.summary).toBe(
      'impression IMP-9 was served but never viewable (at most 30 % of it in view)',
    );
    const shown = v.explanation.by_key
      .flatMap((k: { touches: unknown[] }) => k.touches)
      .find((t: { touch_id: string }) => t.touch_id === 'IMP-9');
    expect(shown).toMatchObject({
      verdict: 'not_eligible',
      viewability: { served: true, measurable: true, viewable: false, max_share: 0.3 },
    });
  });

  it('VC05 an impression id two DSPs both use: each destination is judged by its own verdict (review finding 9)', async () => {
    // dsp1's ad was seen; dspV's ad with the same ad-server id was not.
    const ptid = await showAd('dsp1', 'IMP-SHARED', VIEWABLE);
    await showAd('dspV', 'IMP-SHARED', NOT_VIEWABLE, ptid);
    const { dsp1, dspV } = await buy('ord-vc5', ptid);
    expect(dsp1.attribution).toMatchObject({ type: 'view', imp_id: 'IMP-SHARED' });
    expect(dspV.attribution).toBeNull();
    expect(dspV.reason).toBe(
      'impression IMP-SHARED was served but never viewable (at most 30 % of it in view)',
    );
    const { body } = await admin(base, '/api/touches?env_id=env_t&imp_id=IMP-SHARED');
    const views = Object.fromEntries(
      body.touches.map((t: { dest_id: string; viewable: boolean }) => [t.dest_id, t.viewable]),
    );
    expect(views).toEqual({ dsp1: true, dspV: false });
  });

  it("VC06 erasing one person keeps another destination's verdict for the same impression id", async () => {
    const a = await showAd('dsp1', 'IMP-ERASE', VIEWABLE);
    const b = await showAd('dspV', 'IMP-ERASE', VIEWABLE);
    await server.services.pipeline.flush();
    const erased = await admin(base, `/api/subjects?env_id=env_t&anonymous_id=${a}`, 'DELETE');
    expect(erased.status).toBe(200);
    expect(erased.body.deleted.impression_views).toBe(1);
    const { body } = await admin(base, '/api/touches?env_id=env_t&imp_id=IMP-ERASE');
    expect(
      body.touches.map((t: { dest_id: string; viewable: boolean }) => [t.dest_id, t.viewable]),
    ).toEqual([['dspV', true]]);
    const { dspV } = await buy('ord-vc6', b);
    expect(dspV.attribution).toMatchObject({ type: 'view', imp_id: 'IMP-ERASE' });
  });

  it('VC04 the admin API shows, sets and checks the option', async () => {
    const before = await admin(base, '/api/destinations/env_t/dsp1');
    expect(before.body.view_requires_viewable).toBe(false);
    expect((await admin(base, '/api/destinations/env_t/dspV')).body.view_requires_viewable).toBe(
      true,
    );
    const bad = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', {
      view_requires_viewable: 'yes',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      expect.objectContaining({
        field: 'view_requires_viewable',
        message: 'must be true or false',
      }),
    ]);
    const set = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', {
      view_requires_viewable: true,
    });
    expect(set.status).toBe(200);
    expect(set.body.view_requires_viewable).toBe(true);
    const ptid = await showAd('dsp1', 'IMP-VC4', NOT_VIEWABLE);
    const { dsp1 } = await buy('ord-vc4', ptid);
    expect(dsp1.reason).toMatch(/^impression IMP-VC4 was served but never viewable/);
    // An edit that leaves it out keeps it.
    const other = await admin(base, '/api/destinations/env_t/dsp1', 'PATCH', { view_window: '2d' });
    expect(other.body.view_requires_viewable).toBe(true);
  });

  it('VC05 the config file checks it', () => {
    const raw = testConfig('http://127.0.0.1:9/hook', { view_requires_viewable: 1 });
    const { errors } = parseConfig(raw, { port: 0, host: '127.0.0.1', data_dir: tempDir() });
    expect(errors).toContainEqual({
      field: 'environments[0].destinations[0].view_requires_viewable',
      message: 'must be true or false',
    });
  });
});
