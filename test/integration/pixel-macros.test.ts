/**
 * Issue 19 §3: what the pixels store is what the ad meant. An unexpanded ad-server macro is
 * never stored as an id: the hit answers its GIF (or redirect) with
 * `X-Pixeltrail-Warnings: unexpanded_macro:<param>`, is counted, and is kept without that
 * field. `/i` is asked through the node:http fast path and through Fastify's route alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Touch } from '../../src/domain/event.js';
import type { Server } from '../../src/server.js';
import {
  admin,
  metricValue,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
} from '../helpers/pixeltrail.js';
import { storedEvent } from '../helpers/stored-event.js';

type Running = { server: Server; base: string };
let fast: Running;
let fastify: Running;

/** Every form of the issue, as an ad server would leave it in the URL (raw, unencoded). */
const MACRO_FORMS: [string, string][] = [
  ['{imp_id}', '{imp_id}'],
  ['[IMP_ID]', '[IMP_ID]'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the macro's literal text is the input
  ['${CAMPAIGN_ID}', '${CAMPAIGN_ID}'],
  ['%%CACHEBUSTER%%', '%%CACHEBUSTER%%'],
  ['__IMP_ID__', '__IMP_ID__'],
  ['%ecid!', '%ecid!'],
  // Percent-encoded by a careful template: the same macro once decoded.
  ['{imp_id} encoded', '%7Bimp_id%7D'],
];

beforeAll(async () => {
  const config = testConfig('http://127.0.0.1:9/hook');
  fast = await startPixeltrail(config, tempDir());
  fastify = await startPixeltrail(config, tempDir(), { fastPaths: false });
});
afterAll(async () => {
  for (const r of [fast, fastify]) await r?.server.close();
});

let browsers = 0;
/** A browser id cookie of its own, so the touches it leaves can be found. */
function newBrowser(): string {
  browsers++;
  return `macrobrowser${String(browsers).padStart(8, '0')}`;
}

function get(base: string, path: string, ptid: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    headers: { 'user-agent': UA, cookie: `ptid=${ptid}`, ...headers },
    redirect: 'manual',
  });
}

/** The touches the browser `ptid` left, once committed. */
async function touchesOf(r: Running, ptid: string): Promise<Touch[]> {
  await r.server.services.pipeline.flush();
  return r.server.services.store.ingest((tx) =>
    tx.findTouches({ env_id: 'env_t', anonymous_ids: [ptid], touch_ids: [], since: 0 }),
  );
}

describe.each([
  ['the fast path', () => fast],
  ['Fastify', () => fastify],
])('/i through %s', (_name, running) => {
  it.each(MACRO_FORMS)(
    'UM01 imp_id=%s answers the GIF with a warning and keeps the view under an id of ours',
    async (_form, raw) => {
      const r = running();
      const ptid = newBrowser();
      const before = await metricValue(
        r.base,
        'pixeltrail_unexpanded_macros_total',
        'dest_id="dsp1",endpoint="i",param="imp_id"',
      );
      const res = await get(r.base, `/i?env_id=env_t&dest_id=dsp1&imp_id=${raw}`, ptid);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/gif');
      expect(res.headers.get('x-pixeltrail-warnings')).toBe('unexpanded_macro:imp_id');
      const touches = await touchesOf(r, ptid);
      expect(touches).toHaveLength(1);
      expect(touches[0].touch_id).toMatch(/^imp_/);
      expect(touches[0]).toMatchObject({ kind: 'impression', dest_id: 'dsp1' });
      expect(
        await metricValue(
          r.base,
          'pixeltrail_unexpanded_macros_total',
          'dest_id="dsp1",endpoint="i",param="imp_id"',
        ),
      ).toBe(before + 1);
    },
  );

  it('UM02 macro campaign, creative and placement ids are dropped one by one, the rest kept', async () => {
    const r = running();
    const ptid = newBrowser();
    const res = await get(
      r.base,
      '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-UM2&campaign_id=c7&creative_id=[CREATIVE_ID]' +
        '&placement_id=__PLACEMENT_ID__&user_id=u-um2',
      ptid,
    );
    expect(res.headers.get('x-pixeltrail-warnings')).toBe(
      'unexpanded_macro:creative_id, unexpanded_macro:placement_id',
    );
    const [touch] = await touchesOf(r, ptid);
    expect(touch).toMatchObject({
      touch_id: 'IMP-UM2',
      campaign_id: 'c7',
      creative_id: null,
      placement_id: null,
      user_id: 'u-um2',
    });
  });

  it('UM03 an opted-out or bot hit is warned about too, and still not stored', async () => {
    const r = running();
    const ptid = newBrowser();
    const gpc = await get(r.base, '/i?env_id=env_t&dest_id=dsp1&imp_id={imp_id}', ptid, {
      'sec-gpc': '1',
    });
    expect(gpc.headers.get('x-pixeltrail-warnings')).toBe('unexpanded_macro:imp_id, opted_out');
    expect(await touchesOf(r, ptid)).toEqual([]);
  });
});

describe('/p event pixel', () => {
  it.each(MACRO_FORMS)('UM04 eid=%s: warned, and the event gets an id of ours', async (_f, raw) => {
    const ptid = newBrowser();
    const res = await get(fastify.base, `/p?env_id=env_t&ev=Lead&eid=${raw}`, ptid);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    const warnings = res.headers.get('x-pixeltrail-warnings') ?? '';
    expect(warnings.split(', ')[0]).toBe('unexpanded_macro:eid');
    // Two hits with the same macro would have been one event: each is its own.
    const again = await get(fastify.base, `/p?env_id=env_t&ev=Lead&eid=${raw}`, ptid);
    expect(again.status).toBe(200);
    await fastify.server.services.pipeline.flush();
    const events = (
      await fastify.server.services.store.listEvents({
        env_id: 'env_t',
        event_name: 'Lead',
        limit: 1000,
      })
    ).filter((e) => e.event.user.anonymous_id === ptid);
    expect(events.map((e) => e.event.event_id)).toHaveLength(2);
    for (const e of events) expect(e.event.event_id).not.toContain('%');
  });

  it('UM05 /p drops macro touch ids and campaign fields, warns for each, keeps the rest', async () => {
    const ptid = newBrowser();
    const res = await get(
      fastify.base,
      '/p?env_id=env_t&ev=Lead&eid=lead-um5&click_id=%%CLICK_ID%%&imp_id=IMP-REAL' +
        '&campaign_id={campaign_id}&utm_source=newsletter&utm_campaign=[CAMPAIGN]',
      ptid,
    );
    expect(res.headers.get('x-pixeltrail-warnings')).toBe(
      'unexpanded_macro:click_id, unexpanded_macro:campaign_id, unexpanded_macro:utm_campaign',
    );
    const stored = await storedEvent(fastify.server, 'Lead', 'lead-um5');
    expect(stored.event.user.click_id).toBeUndefined();
    expect(stored.event.user.imp_id).toBe('IMP-REAL');
    expect(stored.event.properties).toMatchObject({ utm_source: 'newsletter' });
    expect(stored.event.properties).not.toHaveProperty('campaign_id');
    expect(stored.event.properties).not.toHaveProperty('utm_campaign');
  });

  it('UM06 /p keeps campaign_id, creative_id, placement_id and UTM parameters like /i', async () => {
    const ptid = newBrowser();
    const res = await get(
      fastify.base,
      '/p?env_id=env_t&ev=Lead&eid=lead-um6&campaign_id=c-6&creative_id=cr-6&placement_id=pl-6' +
        '&utm_source=google&utm_medium=cpc&utm_campaign=spring%20sale&utm_term=shoes' +
        '&utm_content=banner-a&utm_id=abc123',
      ptid,
    );
    expect(res.headers.get('x-pixeltrail-warnings')).toBeNull();
    const stored = await storedEvent(fastify.server, 'Lead', 'lead-um6');
    expect(stored.event.properties).toMatchObject({
      campaign_id: 'c-6',
      creative_id: 'cr-6',
      placement_id: 'pl-6',
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'spring sale',
      utm_term: 'shoes',
      utm_content: 'banner-a',
      utm_id: 'abc123',
    });
  });
});

describe('/c click redirect', () => {
  it('UM07 a macro click_id still redirects and records the click under an id of ours', async () => {
    const ptid = newBrowser();
    const res = await get(
      fast.base,
      `/c?env_id=env_t&dest_id=dsp1&click_id=__CLICK_ID__&campaign_id=c-7&append_click_id=1&url=${encodeURIComponent('https://shop.example/x')}`,
      ptid,
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('x-pixeltrail-warnings')).toBe('unexpanded_macro:click_id');
    const [touch] = await touchesOf(fast, ptid);
    expect(touch).toMatchObject({ kind: 'click', campaign_id: 'c-7' });
    expect(touch.touch_id).toMatch(/^clk_/);
    // The landing page learns the id that was stored, not the macro.
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('pt_click_id')).toBe(
      touch.touch_id,
    );
  });
});

describe('HEAD (link checkers)', () => {
  it('UM09 HEAD on /i and /p warns about macros as GET would, and records nothing', async () => {
    const head = (path: string) =>
      fetch(`${fastify.base}${path}`, { method: 'HEAD', headers: { 'user-agent': UA } });
    const i = await head('/i?env_id=env_t&dest_id=dsp1&imp_id={imp_id}&campaign_id=c1');
    expect(i.headers.get('x-pixeltrail-warnings')).toBe('unexpanded_macro:imp_id, head');
    const p = await head('/p?env_id=env_t&ev=Lead&eid=%%ORDER%%');
    expect(p.headers.get('x-pixeltrail-warnings')).toBe('unexpanded_macro:eid, head');
    const clean = await head('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-OK');
    expect(clean.headers.get('x-pixeltrail-warnings')).toBe('head');
  });
});

describe('health page', () => {
  it('UM08 shows per destination the share of hits with unexpanded macros, and flags it', async () => {
    const config = testConfig('http://127.0.0.1:9/hook');
    config.environments[0].destinations.push({
      ...config.environments[0].destinations[0],
      id: 'dsp2',
    });
    const r = await startPixeltrail(config, tempDir());
    try {
      const hit = (path: string) => get(r.base, path, newBrowser());
      await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-H1');
      await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-H2&campaign_id=c1');
      await hit('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-H3&creative_id=%%CREATIVE%%');
      await hit('/c?env_id=env_t&dest_id=dsp1&click_id=CLK-H4&url=https://shop.example/');
      await hit('/i?env_id=env_t&dest_id=dsp2&imp_id={imp_id}&campaign_id=[CAMPAIGN]');
      await hit('/i?env_id=env_t&dest_id=dsp2&imp_id=IMP-H6');
      await hit('/p?env_id=env_t&ev=Lead&eid=__ORDER_ID__');
      const { status, body } = await admin(r.base, '/api/health?env_id=env_t');
      expect(status).toBe(200);
      const row = (id: string) =>
        body.destinations.find((d: { dest_id: string }) => d.dest_id === id);
      expect(row('dsp1')).toMatchObject({
        pixel_hits: 4,
        unexpanded_macro_share: 0.25,
        unexpanded_macro_params: { creative_id: 1 },
        light: 'amber',
      });
      expect(row('dsp1').reason).toContain(
        '25 % of pixel hits carry unexpanded macros (creative_id)',
      );
      expect(row('dsp2')).toMatchObject({
        pixel_hits: 2,
        unexpanded_macro_share: 0.5,
        unexpanded_macro_params: { imp_id: 1, campaign_id: 1 },
        light: 'red',
      });
      expect(body.unexpanded_macros).toContainEqual({
        dest_id: null,
        hits: 1,
        with_macros: 1,
        share: 1,
        params: { eid: 1 },
      });
    } finally {
      await r.server.close();
    }
  });
});
