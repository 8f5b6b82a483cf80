/**
 * The viewability tag (`/v.js`, issue 24) in Chromium against a real pixeltrail, on the page's
 * own clock (Playwright's `page.clock`, paused: the tag's timers fire only when the test moves
 * time on, so 0.5 s is 0.5 s however loaded the machine). An ad in view for 1.2 s is viewable;
 * 0.5 s, 40 % in view, below the fold and a hidden tab are not — on the ad's own page and
 * inside a cross-origin iframe (the publisher on 127.0.0.1, the ad on localhost), as ad slots
 * are. A verdict of "not viewable" is the tag's own pagehide signal (`viewable=0`), so no test
 * proves an absence by waiting.
 */
import type { Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { admin, metricValue, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { tcfString } from '../helpers/tcf.js';
import { type LocalServer, startPageServer, waitFor } from './local-servers.js';

const WAIT_MS = 10_000;
const T0 = Date.parse('2026-06-01T10:00:00Z');
/** The ad's size, and the viewport's height (Playwright's default 1280x720). */
const AD_W = 300;
const AD_H = 250;
const VIEWPORT_H = 720;

type Mode = 'page' | 'iframe';

interface ShowOptions {
  /** More attributes on the tag's script element. */
  extra?: string;
  /** false: the tag is not expected to measure (nothing to wait for). */
  measurable?: boolean;
  /** The destination the ad ran for (default dsp1). */
  dest?: string;
}

/**
 * Page Visibility as a tab switch sets it, in every frame: headless Chromium reports every
 * page visible whatever its tab (Playwright issue 2286), so the test sets the state and fires
 * `visibilitychange` as the browser would. `__ptSetHidden(false)` brings the tab back.
 */
const HIDDEN_TAB = `(() => {
  let hidden = true;
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    get: () => (hidden ? 'hidden' : 'visible'),
  });
  window.__ptSetHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();`;

export interface ShownAd {
  page: Page;
  /** The frame that runs the tag: the page itself, or the ad's cross-origin iframe. */
  frame: Frame;
  impId: string;
}

describe.skipIf(!HAS_CHROMIUM)('viewability tag in Chromium', () => {
  const pages = new Map<string, string>();
  let server: Server;
  let port: string;
  let site: LocalServer;
  let browser: TestBrowser;
  let page: Page;
  let n = 0;

  beforeAll(async () => {
    let base: string;
    const raw = testConfig('http://127.0.0.1:9/hook') as {
      environments: Array<{ destinations: Array<Record<string, unknown>> }>;
    };
    // dspV credits viewable impressions only (issue 24); dsp1 keeps the default.
    const dsp1 = raw.environments[0].destinations[0];
    raw.environments[0].destinations.push({ ...dsp1, id: 'dspV', view_requires_viewable: true });
    ({ server, base } = await startPixeltrail(raw, tempDir()));
    useBuiltTag(server);
    port = new URL(base).port;
    site = await startPageServer(pages);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await server?.close();
  });

  beforeEach(async () => {
    page = await browser.context.newPage();
    // Paused: the page's Date and timers move only when the test says so.
    await page.clock.install({ time: T0 });
    await page.clock.pauseAt(T0 + 1000);
    return () => page.close();
  });

  /** The tag's script element for one impression. */
  const tag = (host: string, impId: string, extra = '', dest = 'dsp1') =>
    `<script src="http://${host}:${port}/v.js" data-env="env_t" data-dest="${dest}" ` +
    `data-imp="${impId}" data-campaign="c1" data-placement="pl1" ${extra} async></script>`;

  /**
   * Shows an ad whose top edge is `top` px down the page. `page`: the tag sits in the ad's
   * element on the publisher's page. `iframe`: the publisher (127.0.0.1) frames the ad from
   * another site (localhost), and the tag in the frame's body measures the frame.
   */
  async function showAd(mode: Mode, top: number, opts: ShowOptions = {}): Promise<ShownAd> {
    const extra = opts.extra ?? '';
    const impId = `IMP-VB${n++}-${mode}`;
    const box = `position:absolute;left:0;top:${top}px;width:${AD_W}px;height:${AD_H}px;border:0`;
    const tall = '<div style="height:5000px"></div>';
    if (mode === 'page') {
      pages.set(
        `/pub/${impId}`,
        `<!doctype html><body style="margin:0">${tall}<div id="ad" style="${box}">ad${tag('127.0.0.1', impId, extra, opts.dest)}</div></body>`,
      );
    } else {
      pages.set(
        `/ad/${impId}`,
        `<!doctype html><body style="margin:0;height:100%">ad${tag('localhost', impId, extra, opts.dest)}</body>`,
      );
      pages.set(
        `/pub/${impId}`,
        `<!doctype html><body style="margin:0">${tall}<iframe src="http://localhost:${site.port}/ad/${impId}" style="${box}"></iframe></body>`,
      );
    }
    await page.goto(`http://127.0.0.1:${site.port}/pub/${impId}`);
    const frame =
      mode === 'page'
        ? page.mainFrame()
        : await waitFor(
            () => page.frames().find((f) => f.url().includes('/ad/')),
            WAIT_MS,
            'the ad frame',
          );
    if (opts.measurable === false) return { page, frame, impId };
    await served(impId);
    await observed(frame);
    return { page, frame, impId };
  }

  /** The impression's row in `GET /api/touches` once `ok` holds for it. */
  async function touchOf(impId: string, ok: (t: Record<string, unknown>) => boolean, what: string) {
    return waitFor(
      async () => {
        await server.services.pipeline.flush();
        const { body } = await admin(server_base(), `/api/touches?env_id=env_t&imp_id=${impId}`);
        const t = body.touches[0];
        return t && ok(t) ? t : null;
      },
      WAIT_MS,
      `${impId}: ${what}`,
    );
  }
  const server_base = () => `http://127.0.0.1:${port}`;
  /** The served impression is stored: the tag has run, and its observer exists. */
  const served = (impId: string) =>
    touchOf(impId, (t) => t.measurable === true, 'the served impression, measurable');

  /**
   * Waits for an IntersectionObserver made now in the tag's document to report, and with
   * `out` until it reports the ad out of view. The browser delivers every observer's entries
   * of one rendering update in one task, in the order they were made: the tag's observer
   * (made earlier) has then seen the same layout. A cross-origin frame learns of its parent's
   * scroll a frame or more later, so its first report may still be the old position: hence
   * waiting for the state asked for, not for any report.
   */
  async function observed(frame: Frame, out = false) {
    await frame.evaluate(
      (wantOut) =>
        new Promise<void>((resolve) => {
          const io = new IntersectionObserver((entries) => {
            if (wantOut && entries.some((e) => e.isIntersecting)) return;
            io.disconnect();
            resolve();
          });
          io.observe(document.getElementById('ad') ?? document.documentElement);
        }),
      out,
    );
  }

  /** Leaves the page: the tag's pagehide signal carries its verdict when it had none. */
  async function leave(ad: ShownAd) {
    await ad.page.goto('about:blank');
  }

  const verdict = (impId: string) =>
    touchOf(
      impId,
      (t) => t.view_signal_at !== null && (t.viewable === true || t.max_share !== null),
      'a verdict',
    );

  for (const mode of ['page', 'iframe'] as const) {
    describe(mode === 'page' ? 'on the ad page' : 'in a cross-origin iframe', () => {
      it(`VB01 ${mode}: an ad in view for 1.2 s is viewable, 1 s after the tag started`, async () => {
        const ad = await showAd(mode, 0);
        await page.clock.runFor(1200);
        const t = await verdict(ad.impId);
        expect(t).toMatchObject({
          served: true,
          measurable: true,
          viewable: true,
          time_to_view_ms: 1000,
          max_share: 1,
        });
      });

      it(`VB02 ${mode}: an ad in view for 0.5 s, then scrolled away, is not viewable`, async () => {
        const ad = await showAd(mode, 0);
        await page.clock.runFor(500);
        await page.evaluate(() => window.scrollTo(0, 3000));
        await observed(ad.frame, true);
        await page.clock.runFor(5000);
        await leave(ad);
        expect(await verdict(ad.impId)).toMatchObject({
          measurable: true,
          viewable: false,
          max_share: 1,
        });
      });

      it(`VB03 ${mode}: an ad 40 % in view for 5 s is not viewable`, async () => {
        const ad = await showAd(mode, VIEWPORT_H - 0.4 * AD_H);
        await page.clock.runFor(5000);
        await leave(ad);
        expect(await verdict(ad.impId)).toMatchObject({
          measurable: true,
          viewable: false,
          max_share: 0.4,
        });
      });

      it(`VB04 ${mode}: an ad below the fold is not viewable`, async () => {
        const ad = await showAd(mode, 2000);
        await page.clock.runFor(5000);
        await leave(ad);
        expect(await verdict(ad.impId)).toMatchObject({
          measurable: true,
          viewable: false,
          max_share: 0,
        });
      });

      it(`VB05 ${mode}: an ad in view in a hidden tab is not viewable`, async () => {
        await page.addInitScript(HIDDEN_TAB);
        const ad = await showAd(mode, 0);
        await page.clock.runFor(5000);
        await leave(ad);
        expect(await verdict(ad.impId)).toMatchObject({
          measurable: true,
          viewable: false,
          max_share: 0,
        });
      });

      it(`VB06 ${mode}: the time in a hidden tab does not count; back in front, 1 s makes it viewable`, async () => {
        await page.addInitScript(HIDDEN_TAB);
        const ad = await showAd(mode, 0);
        await page.clock.runFor(2000);
        await ad.frame.evaluate(() =>
          (window as unknown as { __ptSetHidden(h: boolean): void }).__ptSetHidden(false),
        );
        await page.clock.runFor(1200);
        expect(await verdict(ad.impId)).toMatchObject({ viewable: true, time_to_view_ms: 3000 });
      });
    });
  }

  it('VB07 video (data-video) needs 2 continuous seconds', async () => {
    const ad = await showAd('iframe', 0, { extra: 'data-video' });
    await page.clock.runFor(2200);
    expect(await verdict(ad.impId)).toMatchObject({
      viewable: true,
      video: true,
      time_to_view_ms: 2000,
    });
  });

  it('VB08 without IntersectionObserver the tag says measurable:false instead of guessing', async () => {
    await page.addInitScript(() => {
      delete (window as { IntersectionObserver?: unknown }).IntersectionObserver;
    });
    const ad = await showAd('page', 0, { measurable: false });
    const t = await touchOf(ad.impId, (x) => x.view_signal_at !== null, 'the served signal');
    expect(t).toMatchObject({ served: true, measurable: false, viewable: false, max_share: null });
  });

  it('VB09 two sendBeacon requests at most per impression: served, then the verdict', async () => {
    const sent: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v') sent.push(`${r.method()} ${new URL(r.url()).search}`);
    });
    const ad = await showAd('page', 0);
    await page.clock.runFor(1200);
    await verdict(ad.impId);
    await page.clock.runFor(10_000);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^POST \?.*&served=1&measurable=1$/);
    expect(sent[1]).toMatch(/^POST \?.*&viewable=1&ttv_ms=1000&max_share=1\.00$/);
  });

  it('VB10 the iframe form, /v.html on another site, measures the frame it is', async () => {
    const impId = `IMP-VB${n++}-html`;
    const src = `http://localhost:${port}/v.html?env_id=env_t&dest_id=dsp1&imp_id=${impId}&campaign_id=c1`;
    pages.set(
      `/pub/${impId}`,
      `<!doctype html><body style="margin:0"><iframe src="${src}" width="${AD_W}" height="${AD_H}" style="border:0"></iframe></body>`,
    );
    await page.goto(`http://127.0.0.1:${site.port}/pub/${impId}`);
    const frame = await waitFor(
      () => page.frames().find((f) => f.url().includes('/v.html')),
      WAIT_MS,
      'v.html',
    );
    await served(impId);
    await observed(frame);
    await page.clock.runFor(1200);
    expect(await verdict(impId)).toMatchObject({
      served: true,
      viewable: true,
      time_to_view_ms: 1000,
      campaign_id: 'c1',
    });
  });

  it('VB11 consent: an ad whose TCF string refuses purpose 1 keeps nothing and gets no cookie', async () => {
    const optedOut = () =>
      metricValue(
        server_base(),
        'pixeltrail_invalid_hits_total',
        'endpoint="v",reason="opted_out"',
      );
    const before = await optedOut();
    const extra = `data-gdpr="1" data-gdpr-consent="${tcfString([2, 3])}"`;
    const ad = await showAd('page', 0, { extra, measurable: false });
    await waitFor(
      async () => (await optedOut()) >= before + 1,
      WAIT_MS,
      'the refused served signal',
    );
    await page.clock.runFor(1200);
    await waitFor(async () => (await optedOut()) >= before + 2, WAIT_MS, 'the refused verdict');
    await server.services.pipeline.flush();
    const { body } = await admin(server_base(), `/api/touches?env_id=env_t&imp_id=${ad.impId}`);
    expect(body.touches).toEqual([]);
    const cookies = await browser.context.cookies(server_base());
    expect(cookies.filter((c) => c.name === 'ptid')).toEqual([]);
  });

  /**
   * A purchase from the shop's backend by the browser that saw the ads (its ptid). The ads are
   * on the collector's site here: over plain HTTP a cross-site frame gets no cookie (that needs
   * HTTPS, ptid-cookie.test.ts), and the cookie is what names the buyer.
   */
  async function purchase(eventId: string) {
    const ptid = (await browser.context.cookies(server_base())).find((c) => c.name === 'ptid');
    expect(ptid).toBeDefined();
    const res = await fetch(`${server_base()}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
      body: JSON.stringify({
        events: [
          {
            event_name: 'Purchase',
            event_id: eventId,
            user: { anonymous_id: ptid?.value },
            properties: { value: 30, currency: 'EUR' },
          },
        ],
      }),
    });
    expect((await res.json()).accepted).toBe(1);
    const { body } = await admin(server_base(), '/api/conversions?env_id=env_t&limit=1000');
    const of = (dest: string) =>
      body.conversions.find(
        (c: { event_id: string; dest_id: string }) => c.event_id === eventId && c.dest_id === dest,
      );
    return { dsp1: of('dsp1'), dspV: of('dspV') };
  }

  it('VB12 a purchase after never-viewable impressions: credited under the default, not under view_requires_viewable', async () => {
    await browser.context.clearCookies();
    const a = await showAd('page', 2000);
    await leave(a);
    await verdict(a.impId);
    const v = await showAd('page', 2000, { dest: 'dspV' });
    await leave(v);
    expect(await verdict(v.impId)).toMatchObject({ viewable: false });
    const { dsp1, dspV } = await purchase('ord-vb12');
    expect(dsp1.attribution).toMatchObject({ type: 'view', imp_id: a.impId, match_key: 'cookie' });
    expect(dspV.attribution).toBeNull();
    expect(dspV.reason).toBe(
      `impression ${v.impId} was served but never viewable (at most 0 % of it in view)`,
    );
  });

  it('VB13 a viewable impression earns view_requires_viewable credit', async () => {
    await browser.context.clearCookies();
    const v = await showAd('page', 0, { dest: 'dspV' });
    await page.clock.runFor(1200);
    expect(await verdict(v.impId)).toMatchObject({ viewable: true });
    const { dspV } = await purchase('ord-vb13');
    expect(dspV.attribution).toMatchObject({ type: 'view', imp_id: v.impId, match_key: 'cookie' });
  });

  it('VB14 image plus a script: the <img> counts the served impression, the script (data-served="0") only measures', async () => {
    const impId = `IMP-VB${n++}-img`;
    const ids = `env_id=env_t&dest_id=dsp1&imp_id=${impId}&campaign_id=c1`;
    pages.set(
      `/pub/${impId}`,
      `<!doctype html><body style="margin:0"><div id="ad" style="width:${AD_W}px;height:${AD_H}px">` +
        `<img src="http://127.0.0.1:${port}/i?${ids}" alt="">` +
        `<script src="http://127.0.0.1:${port}/v.js?${ids}&served=0" async></script></div></body>`,
    );
    await page.goto(`http://127.0.0.1:${site.port}/pub/${impId}`);
    // The measurable signal and the image's touch: once both are stored, so would be a second
    // touch, had the script counted the impression again (its served=1 rides on that signal).
    const t = await served(impId);
    expect(t).toMatchObject({ served: true, measurable: true });
    await observed(page.mainFrame());
    await page.clock.runFor(1200);
    expect(await verdict(impId)).toMatchObject({ viewable: true, time_to_view_ms: 1000 });
    const { body } = await admin(server_base(), `/api/touches?env_id=env_t&imp_id=${impId}`);
    expect(body.touches).toHaveLength(1);
  });

  it('VB15 never throws into the ad page: an IntersectionObserver that throws makes it unmeasurable, quietly', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      (window as unknown as { IntersectionObserver: unknown }).IntersectionObserver = () => {
        throw new Error('blocked by an ad verification script');
      };
    });
    const ad = await showAd('iframe', 0, { measurable: false });
    const t = await touchOf(ad.impId, (x) => x.view_signal_at !== null, 'the served signal');
    expect(t).toMatchObject({ served: true, measurable: false });
    await leave(ad);
    expect(errors).toEqual([]);
  });
});
