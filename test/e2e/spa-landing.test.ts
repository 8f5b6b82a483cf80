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
      const html = pages.get('/app');
      return html && r.path.startsWith('/app')
        ? { status: 200, headers: { 'content-type': 'text/html' }, body: html }
        : undefined;
    });
    shopUrl = `http://127.0.0.1:${shop.port}`;
    ({ server, base } = await startPixeltrail(
      testConfig(`${hook.url}/hook`, {}, { allowed_origins: [shopUrl] }),
      tempDir(),
    ));
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

  /** Every stored page view, once `n` of them are stored (a visit is committed before its event). */
  async function pageViewsStored(n: number): Promise<void> {
    await waitFor(async () => {
      await server.services.pipeline.flush();
      const { events } = (await admin(base, '/api/events?env_id=env_t&limit=100')).body as {
        events: { event: { event_name: string } }[];
      };
      return events.filter((e) => e.event.event_name === 'PageView').length >= n;
    });
  }

  async function visits(): Promise<ListedTouch[]> {
    await server.services.pipeline.flush();
    return (await admin(base, '/api/touches?env_id=env_t&kind=visit')).body.touches;
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
});
