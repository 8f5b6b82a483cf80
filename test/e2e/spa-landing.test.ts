/**
 * Issue 23, review finding 6, in Chromium against a real server: a single-page app keeps
 * `document.referrer` (and here the campaign query is gone after the first route), so every
 * route's event used to look like a landing of its own. The tag marks the first event of each
 * page load as the landing: one visit for the landing and its three pushState routes, and a
 * second one only when a full page load comes from another site. Needs `npm run build`
 * (dist/public/t.js).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { admin, startPixeltrail, tempDir, testConfig, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { type LocalServer, shopPage, startLocalServer } from './local-servers.js';

const TAG = path.resolve('dist/public/t.js');

interface ListedTouch {
  kind: string;
  traffic_source: { source: string; medium: string; campaign?: string } | null;
}

describe.skipIf(!HAS_CHROMIUM || !existsSync(TAG))('a single-page app lands once', () => {
  let hook: Receiver;
  let server: Server;
  let base: string;
  let shop: LocalServer;
  let shopUrl: string;
  let browser: TestBrowser;
  let page: Page;
  const pages = new Map<string, string>();

  beforeAll(async () => {
    hook = await startReceiver(() => 200);
    const tagJs = readFileSync(TAG);
    shop = await startLocalServer((r) => {
      if (r.path === '/t.js')
        return { status: 200, headers: { 'content-type': 'text/javascript' }, body: tagJs };
      // The app answers every route with its one page, as a single-page app's server does.
      const html = pages.get(`/${r.path.split(/[/?]/)[1]}`);
      return html
        ? { status: 200, headers: { 'content-type': 'text/html' }, body: html }
        : undefined;
    });
    shopUrl = `http://127.0.0.1:${shop.port}`;
    const cfg = testConfig(`${hook.url}/hook`, {}, { allowed_origins: [shopUrl] });
    const env = cfg.environments[0];
    // An EU shop: nothing is consented before its TCF CMP answers.
    const eu = {
      ...env,
      id: 'env_eu',
      write_key: 'wk_eu',
      consent_default: 'denied',
      follow_cmp: true,
    };
    ({ server, base } = await startPixeltrail({ ...cfg, environments: [env, eu] }, tempDir()));
    // Served by pixeltrail too (t.js?env_id= brings the environment's consent settings).
    server.services.tag = { js: tagJs, gzip: gzipSync(tagJs), etag: '"e2e"' };
    // A router: each route change pushes the URL and tracks its page view, as SPA routers do.
    pages.set(
      '/app',
      shopPage(
        `${shopUrl}/t.js`,
        `pixeltrail('init','env_t',{endpoint:'${base}',rules:false});
         window.go = function (to, id) {
           history.pushState({}, '', to);
           pixeltrail('track', 'PageView', {}, { event_id: id });
         };`,
      ),
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await shop?.close();
    await hook?.close();
  });

  /**
   * Once `n` events named `name` are stored (a visit is committed before its event): what
   * is stored after them is stored without a sleep.
   */
  async function stored(n: number, name = 'PageView', envId = 'env_t'): Promise<void> {
    await waitFor(async () => {
      await server.services.pipeline.flush();
      const { events } = (await admin(base, `/api/events?env_id=${envId}&limit=100`)).body as {
        events: { event: { event_name: string } }[];
      };
      return events.filter((e) => e.event.event_name === name).length >= n;
    });
  }
  const pageViewsStored = (n: number) => stored(n);

  async function visits(envId = 'env_t'): Promise<ListedTouch[]> {
    await server.services.pipeline.flush();
    return (await admin(base, `/api/touches?env_id=${envId}&kind=visit`)).body.touches;
  }

  it('SPA01 a campaign landing and three pushState routes: one visit; a full load from another site: a second', async () => {
    await page.goto(`${shopUrl}/app?utm_source=partner&utm_medium=referral&utm_campaign=spring`, {
      referer: 'https://news.example.org/article',
    });
    await page.waitForLoadState('networkidle');
    for (const [i, route] of ['/app/shoes', '/app/shoes/42', '/app/cart'].entries()) {
      await page.evaluate(
        ([to, id]) => (window as never as { go: (a: string, b: string) => void }).go(to, id),
        [route, `route-${i + 1}`],
      );
    }
    // The routes still carry the landing's referrer: what made them visits of their own.
    expect(await page.evaluate(() => document.referrer)).toBe('https://news.example.org/article');
    await pageViewsStored(4);
    const first = await visits();
    expect(first).toHaveLength(1);
    expect(first[0]?.traffic_source).toMatchObject({
      source: 'partner',
      medium: 'referral',
      campaign: 'spring',
    });

    // A new page load of the app, from a search engine this time: a landing, another visit.
    await page.goto(`${shopUrl}/app/cart`, { referer: 'https://www.bing.com/' });
    await page.waitForLoadState('networkidle');
    await pageViewsStored(5);
    const both = await visits();
    expect(both.map((v) => `${v.traffic_source?.source} / ${v.traffic_source?.medium}`)).toEqual([
      'bing / organic',
      'partner / referral',
    ]);
  });

  it('SPA02 consent denied by default: the campaign landing becomes a visit once the CMP grants, with the next event', async () => {
    // A minimal TCF v2 CMP: its banner is up when the tag starts; `__tcfDecide` answers.
    const cmp = `<script>
      var listeners = [];
      window.__tcfapi = function (command, version, callback) {
        if (command !== 'addEventListener') return;
        listeners.push(callback);
        callback({ eventStatus: 'cmpuishown', gdprApplies: true, purpose: { consents: {} } }, true);
      };
      window.__tcfDecide = function () {
        listeners.forEach(function (callback) {
          callback({ eventStatus: 'useractioncomplete', gdprApplies: true, tcString: 'x',
            purpose: { consents: { 1: true, 2: true } }, vendor: { consents: {} } }, true);
        });
      };
      window.go = function (to) {
        history.pushState({}, '', to);
        pixeltrail('track', 'PageView');
      };
    </script>`;
    pages.set(
      '/eu',
      shopPage(`${base}/t.js?env_id=env_eu`, `pixeltrail('init','env_eu',{rules:false});`, cmp),
    );
    await page.goto(`${shopUrl}/eu?utm_source=partner&utm_medium=referral&utm_campaign=eu`, {
      referer: 'https://news.example.org/article',
    });
    // The landing's PageView goes before consent: the server stores it denied, no visit.
    await stored(1, 'PageView', 'env_eu');
    expect(await visits('env_eu')).toEqual([]);

    // The visitor accepts; then adds to the cart, on the landing page still.
    await page.evaluate(() => {
      const w = window as never as Record<string, (...a: unknown[]) => void>;
      w.__tcfDecide?.();
      w.pixeltrail?.('track', 'AddToCart');
    });
    await stored(1, 'AddToCart', 'env_eu');
    // A route change after that is no landing again.
    await page.evaluate(() => (window as never as { go: (to: string) => void }).go('/eu/cart'));
    await stored(2, 'PageView', 'env_eu');
    const after = await visits('env_eu');
    expect(after).toHaveLength(1);
    expect(after[0]?.traffic_source).toMatchObject({ source: 'partner', campaign: 'eu' });
  });
});
