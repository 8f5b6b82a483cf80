/**
 * Issue 19 §2 in Chromium's default profile, which blocks third-party cookies: an ad (on
 * localhost) links through `/c` of a real `pixeltrail serve` (127.0.0.1) to a shop on another
 * site (127.0.0.2), which loads the tag from the collector. The collector's `ptid` cookie is a
 * third-party cookie there, so only the click id that `/c` put in the landing URL, kept
 * first-party by the tag, can tie the purchase on a later page to the click.
 * Needs a build (`npm run build`) for dist/cli.js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { type ChildServer, startChild, writeConfig } from '../helpers/child-server.js';
import {
  type LocalServer,
  shopPage,
  startLocalServer,
  startPageServer,
  waitFor,
} from './local-servers.js';

const WAIT_MS = 15_000;
/** The shop's own site: another loopback address is another site to the browser. */
const SHOP_HOST = '127.0.0.2';

interface Attribution {
  type: string;
  click_id: string | null;
  campaign_id: string | null;
  match_key: string;
  match_type: string;
}

describe.skipIf(!HAS_CHROMIUM)('click id carried first-party (third-party cookies blocked)', () => {
  const adPages = new Map<string, string>();
  const shopPages = new Map<string, string>();
  let ads: LocalServer;
  let shop: LocalServer;
  let probe: LocalServer;
  let server: ChildServer;
  let shopOrigin: string;
  let tmp: string;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync('dist/cli.js')) throw new Error('dist/cli.js is missing: run npm run build');
    execFileSync(process.execPath, ['scripts/build-tag.mjs'], { stdio: 'pipe' });
    ads = await startPageServer(adPages);
    shop = await startPageServer(shopPages, SHOP_HOST);
    shopOrigin = `http://${SHOP_HOST}:${shop.port}`;
    // On the collector's site: sets a cookie first-party, and says whether it came back.
    probe = await startLocalServer((r) => {
      const cors = {
        'access-control-allow-origin': String(r.headers.origin ?? '*'),
        'access-control-allow-credentials': 'true',
      };
      if (r.path === '/set')
        return {
          status: 200,
          headers: { 'set-cookie': 'probe=1; Path=/; SameSite=None; Secure' },
          body: 'set',
        };
      if (r.path === '/echo') return { status: 200, headers: cors, body: r.headers.cookie ?? '' };
      return undefined;
    });
    tmp = await mkdtemp(join(tmpdir(), 'pixeltrail-e2e-click-'));
    const config = {
      admin_token: 'adm-e2e-click-0000',
      log_level: 'silent',
      environments: [
        {
          id: 'env_fp',
          name: 'First-party clicks',
          write_key: 'wk_fp',
          allowed_origins: [shopOrigin],
          click_url_hosts: [SHOP_HOST],
          destinations: [
            {
              id: 'dsp1',
              type: 'webhook',
              url: 'http://127.0.0.1:9/hook',
              secret: 's3cret',
              events: ['Purchase'],
            },
          ],
        },
      ],
    };
    server = await startChild(writeConfig(tmp, config), join(tmp, 'data'));
    browser = await launchBrowser({ thirdPartyCookies: false });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await Promise.all([ads, shop, probe].map((s) => s?.close()));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await browser.context.newPage();
    return () => page.close();
  });

  /** The attribution of the purchase `eventId` for dsp1, once it is recorded. */
  function attributionOf(eventId: string): Promise<Attribution> {
    return waitFor(
      async () => {
        const res = await fetch(`${server.base}/api/conversions?env_id=env_fp`, {
          headers: { authorization: 'Bearer adm-e2e-click-0000' },
        });
        const { conversions } = (await res.json()) as {
          conversions: { event_id: string; attribution: Attribution | null }[];
        };
        return conversions.find((c) => c.event_id === eventId)?.attribution;
      },
      WAIT_MS,
      `the conversion of ${eventId}\n${server.output()}`,
    );
  }

  /**
   * Clicks an ad linking through `/c` (with `extra` query) to the shop's landing page, which
   * loads the tag; then buys on a later page whose URL carries no id.
   */
  async function clickAndBuy(clickId: string, extra: string, eventId: string): Promise<string> {
    shopPages.set('/landing', shopPage(`${server.base}/t.js`, `pixeltrail('init','env_fp');`));
    shopPages.set(
      '/thanks',
      shopPage(
        `${server.base}/t.js`,
        `pixeltrail('init','env_fp',{autoPageView:false});
         pixeltrail('track','Purchase',{value:20,currency:'EUR'},{event_id:'${eventId}'});`,
      ),
    );
    const click =
      `${server.base}/c?env_id=env_fp&dest_id=dsp1&click_id=${clickId}&campaign_id=c-fp${extra}` +
      `&url=${encodeURIComponent(`${shopOrigin}/landing`)}`;
    adPages.set(`/ad/${clickId}`, `<!doctype html><title>ad</title><a href="${click}">Buy</a>`);
    await page.goto(`http://localhost:${ads.port}/ad/${clickId}`);
    const landed = page.waitForResponse((r) => r.url() === `${server.base}/e`, {
      timeout: WAIT_MS,
    });
    await Promise.all([page.waitForURL(/\/landing/), page.click('a')]);
    expect((await landed).status()).toBe(204);
    const landingUrl = page.url();
    const bought = page.waitForResponse((r) => r.url() === `${server.base}/e`, {
      timeout: WAIT_MS,
    });
    await page.goto(`${shopOrigin}/thanks`);
    expect((await bought).status()).toBe(204);
    return landingUrl;
  }

  it('X01 this browser blocks third-party cookies: the collector site never sees its own', async () => {
    await page.goto(`http://127.0.0.1:${probe.port}/set`);
    await page.goto(`http://127.0.0.1:${probe.port}/echo`);
    expect(await page.textContent('body'), 'sent first-party').toBe('probe=1');
    shopPages.set('/blank', '<!doctype html><title>blank</title>');
    await page.goto(`${shopOrigin}/blank`);
    const thirdParty = await page.evaluate(
      (url) => fetch(url, { credentials: 'include' }).then((r) => r.text()),
      `http://127.0.0.1:${probe.port}/echo`,
    );
    expect(thirdParty, 'sent third-party').toBe('');
  });

  it('X02 without the id in the landing URL, the purchase matches the click only by IP', async () => {
    const landing = await clickAndBuy('CLK-FP-OFF', '&append_click_id=0', 'ord-fp-off');
    expect(new URL(landing).searchParams.has('pt_click_id')).toBe(false);
    expect(await attributionOf('ord-fp-off')).toMatchObject({
      type: 'click',
      click_id: 'CLK-FP-OFF',
      match_type: 'probabilistic',
    });
  });

  it('X03 with pt_click_id, the purchase on a later page matches its click deterministically', async () => {
    const landing = await clickAndBuy('CLK-FP-1', '', 'ord-fp-1');
    expect(new URL(landing).searchParams.get('pt_click_id')).toBe('CLK-FP-1');
    // Kept first-party, on the shop's own host.
    const cookies = await browser.context.cookies(shopOrigin);
    expect(cookies.find((c) => c.name === '_ptclk')?.value).toBe('CLK-FP-1');
    expect(await attributionOf('ord-fp-1')).toEqual(
      expect.objectContaining({
        type: 'click',
        click_id: 'CLK-FP-1',
        campaign_id: 'c-fp',
        match_key: 'click_id',
        match_type: 'deterministic',
      }),
    );
  });
});
