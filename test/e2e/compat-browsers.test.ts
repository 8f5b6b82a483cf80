/**
 * The real browser libraries — @segment/analytics-next and @snowplow/browser-tracker, bundled
 * by esbuild into a shop page — in Chromium, posting cross-origin to a running pixeltrail.
 * The shop (127.0.0.1:<shop>) and pixeltrail (127.0.0.1:<server>) are different origins, so
 * every POST with its Authorization or JSON content type passes a CORS preflight first.
 */
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedEvent, storedIp } from '../helpers/stored-event.js';
import { type LocalServer, startLocalServer, waitFor } from './local-servers.js';

const WAIT_MS = 15_000;

/** The two libraries as a page would bundle them, exposed on `window.compat`. */
async function bundleLibraries(): Promise<string> {
  const out = await build({
    stdin: {
      contents: `
        import { AnalyticsBrowser } from '@segment/analytics-next';
        import { newTracker, trackPageView, trackSelfDescribingEvent } from '@snowplow/browser-tracker';
        window.compat = { AnalyticsBrowser, newTracker, trackPageView, trackSelfDescribingEvent };`,
      resolveDir: process.cwd(),
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return out.outputFiles[0].text;
}

interface Sent {
  url: string;
  body: string;
}

describe.skipIf(!HAS_CHROMIUM)('Segment and Snowplow browser libraries in Chromium', () => {
  const pages = new Map<string, string>();
  let bundle: string;
  let shop: LocalServer;
  let hook: Receiver;
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  let shopUrl: string;

  beforeAll(async () => {
    bundle = await bundleLibraries();
    shop = await startLocalServer((r) => {
      const path = new URL(r.path, 'http://x').pathname;
      if (path === '/compat.js')
        return { status: 200, headers: { 'content-type': 'text/javascript' }, body: bundle };
      const html = pages.get(path);
      return html
        ? { status: 200, headers: { 'content-type': 'text/html' }, body: html }
        : undefined;
    });
    shopUrl = `http://127.0.0.1:${shop.port}`;
    hook = await startReceiver(() => 200);
    ({ server, base } = await startPixeltrail(
      testConfig(`${hook.url}/hook`, {}, { allowed_origins: [shopUrl] }),
      tempDir(),
    ));
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hook?.close();
    await shop?.close();
  });

  /** Opens `html` on the shop and records what the page posts to pixeltrail. */
  async function open(path: string, html: string): Promise<{ page: Page; sent: Sent[] }> {
    pages.set(path, html);
    const page = await browser.context.newPage();
    const sent: Sent[] = [];
    page.on('requestfinished', async (req) => {
      const res = await req.response();
      if (req.method() === 'POST' && req.url().startsWith(base) && res?.ok())
        sent.push({ url: req.url(), body: req.postData() ?? '' });
    });
    await page.goto(`${shopUrl}${path}`);
    return { page, sent };
  }

  it('CB01 analytics-next (settings from pixeltrail as its CDN) sends page and Order Completed; both are stored', async () => {
    const { page, sent } = await open(
      '/segment',
      `<!doctype html><title>Seg shop</title><script src="/compat.js"></script><script>
        const analytics = compat.AnalyticsBrowser.load({ writeKey: 'wk_t', cdnURL: '${base}' });
        analytics.page('Checkout');
        analytics.track('Order Completed', { order_id: 'br-1', revenue: 30, currency: 'EUR',
          products: [{ product_id: 'sku-br' }] });
      </script>`,
    );
    const posts = await waitFor(
      () => (sent.length >= 2 ? sent : undefined),
      WAIT_MS,
      'two Segment posts',
    );
    const byPath = Object.fromEntries(
      posts.map((p) => [new URL(p.url).pathname, JSON.parse(p.body)]),
    );
    expect(Object.keys(byPath).sort()).toEqual(['/v1/p', '/v1/t']);
    const pv = await storedEvent(server, 'PageView', byPath['/v1/p'].messageId);
    expect(pv.event.properties).toMatchObject({ name: 'Checkout', url: `${shopUrl}/segment` });
    expect(pv.event.user.ip).toBe(storedIp(server, '127.0.0.1'));
    const order = await storedEvent(server, 'Purchase', byPath['/v1/t'].messageId);
    expect(order.event.properties).toMatchObject({
      value: 30,
      currency: 'EUR',
      content_ids: ['sku-br'],
    });
    expect(order.event.user.anonymous_id).toBe(byPath['/v1/t'].anonymousId);
    await page.close();
  });

  it('CB02 the Snowplow browser tracker sends a page view and an ecommerce transaction by POST; both are stored', async () => {
    const { page, sent } = await open(
      '/snowplow',
      `<!doctype html><title>SP shop</title><script src="/compat.js"></script><script>
        compat.newTracker('sp1', '${base}', { appId: 'env_t', eventMethod: 'post', bufferSize: 1 });
        compat.trackPageView();
        compat.trackSelfDescribingEvent({
          event: { schema: 'iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2',
                   data: { type: 'transaction' } },
          context: [
            { schema: 'iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/jsonschema/1-0-0',
              data: { transaction_id: 'sp-br-1', revenue: 75, currency: 'USD', payment_method: 'card', total_quantity: 1 } },
            { schema: 'iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0',
              data: { id: 'sku-sp', price: 75, currency: 'USD' } },
          ],
        });
      </script>`,
    );
    const items = await waitFor(
      () => {
        const all = sent.flatMap((p) => JSON.parse(p.body).data as Record<string, string>[]);
        return all.length >= 2 ? all : undefined;
      },
      WAIT_MS,
      'two Snowplow events',
    );
    expect(new Set(sent.map((p) => new URL(p.url).pathname))).toEqual(
      new Set(['/com.snowplowanalytics.snowplow/tp2']),
    );
    const pvItem = items.find((i) => i.e === 'pv') as Record<string, string>;
    const ueItem = items.find((i) => i.e === 'ue') as Record<string, string>;
    const pv = await storedEvent(server, 'PageView', pvItem.eid);
    expect(pv.event.properties).toMatchObject({ url: `${shopUrl}/snowplow`, title: 'SP shop' });
    expect(pv.event.user.anonymous_id).toBe(pvItem.duid);
    const purchase = await storedEvent(server, 'Purchase', ueItem.eid);
    expect(purchase.event.properties).toMatchObject({
      value: 75,
      currency: 'USD',
      content_ids: ['sku-sp'],
      order_id: 'sp-br-1',
    });
    await page.close();
  });

  it('CB03 the Snowplow browser tracker in GET mode hits /i with e=pv: stored as a page view, not an impression', async () => {
    const page = await browser.context.newPage();
    const pixels: string[] = [];
    page.on('requestfinished', (req) => {
      if (req.method() === 'GET' && req.url().startsWith(`${base}/i?`)) pixels.push(req.url());
    });
    pages.set(
      '/snowplow-get',
      `<!doctype html><title>SP get</title><script src="/compat.js"></script><script>
        compat.newTracker('sp2', '${base}', { appId: 'env_t', eventMethod: 'get' });
        compat.trackPageView();
      </script>`,
    );
    await page.goto(`${shopUrl}/snowplow-get`);
    const url = new URL(await waitFor(() => pixels[0], WAIT_MS, 'the Snowplow GET pixel'));
    expect(url.searchParams.get('e')).toBe('pv');
    const pv = await storedEvent(server, 'PageView', url.searchParams.get('eid') as string);
    expect(pv.event.properties).toMatchObject({ url: `${shopUrl}/snowplow-get` });
    await page.close();
  });

  it('CB04 the Snowplow browser tracker with server-side anonymisation, by GET and by POST: its preflights pass, both events are stored without the IP address, no cookie is set', async () => {
    const page = await browser.context.newPage();
    const sent: Array<{ method: string; url: string; body: string; cookie?: string }> = [];
    page.on('requestfinished', async (req) => {
      if (!req.url().startsWith(base) || req.method() === 'OPTIONS') return;
      const res = await req.response();
      sent.push({
        method: req.method(),
        url: req.url(),
        body: req.postData() ?? '',
        cookie: (await res?.allHeaders())?.['set-cookie'],
      });
    });
    pages.set(
      '/snowplow-anon',
      `<!doctype html><title>SP anon</title><script src="/compat.js"></script><script>
        const anon = { withServerAnonymisation: true };
        compat.newTracker('spg', '${base}', { appId: 'env_t', eventMethod: 'get', anonymousTracking: anon });
        compat.newTracker('spp', '${base}', { appId: 'env_t', eventMethod: 'post', anonymousTracking: anon });
        compat.trackPageView({}, ['spg']);
        compat.trackPageView({}, ['spp']);
      </script>`,
    );
    // The browser has pixeltrail's cookie from before: it is neither kept nor replaced.
    await browser.context.addCookies([{ name: 'ptid', value: 'ptid-cb04-000', url: base }]);
    await page.goto(`${shopUrl}/snowplow-anon`);
    const both = await waitFor(
      () => (sent.length >= 2 ? sent : undefined),
      WAIT_MS,
      'the anonymised GET and POST',
    );
    const get = both.find((r) => r.method === 'GET');
    const post = both.find((r) => r.method === 'POST');
    const getId = new URL(get?.url ?? base).searchParams.get('eid') as string;
    const postId = JSON.parse(post?.body ?? '{}').data?.[0]?.eid as string;
    for (const r of both) expect(r.cookie).toBeUndefined();
    for (const eid of [getId, postId]) {
      const pv = await storedEvent(server, 'PageView', eid);
      expect(pv.event.properties).toMatchObject({ url: `${shopUrl}/snowplow-anon` });
      expect(pv.event.user.ip).toBeUndefined();
      expect(pv.event.user.cookie_id).toBeUndefined();
    }
    const ptid = (await browser.context.cookies(base)).find((c) => c.name === 'ptid');
    expect(ptid?.value).toBe('ptid-cb04-000');
    await page.close();
  });
});
