/**
 * Codeless triggers in Chromium: the shop page only loads the tag and calls `init` — no
 * `track` anywhere — and the rules saved through the admin API fire Purchase on the thank-you
 * URL (value from the dataLayer), Lead on a button click, and Purchase on a dataLayer event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { admin, startPixeltrail, tempDir, testConfig, waitFor } from '../helpers/pixeltrail.js';
import { storedEvent } from '../helpers/stored-event.js';
import { type LocalServer, shopPage, startPageServer } from './local-servers.js';

const RULES = [
  {
    id: 'thanks',
    event_name: 'Purchase',
    trigger: { type: 'url', pattern: '/thank-you*' },
    value_path: 'ecommerce.value',
    currency_path: 'ecommerce.currency',
    event_id_path: 'ecommerce.transaction_id',
  },
  { id: 'signup', event_name: 'Lead', trigger: { type: 'click', selector: '#signup' } },
  {
    id: 'dl-purchase',
    event_name: 'Purchase',
    trigger: { type: 'datalayer', event: 'order_placed' },
    value_path: 'order.total',
    currency: 'USD',
    event_id_path: 'order.id',
  },
];

interface Conversion {
  event_name: string;
  event_id: string;
  value: number | null;
}

describe.skipIf(!HAS_CHROMIUM)('codeless triggers in Chromium', () => {
  const pages = new Map<string, string>();
  let shop: LocalServer;
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  let shopUrl: string;

  beforeAll(async () => {
    shop = await startPageServer(pages);
    shopUrl = `http://127.0.0.1:${shop.port}`;
    ({ server, base } = await startPixeltrail(
      testConfig('http://127.0.0.1:9/hook', {}, { allowed_origins: [shopUrl] }),
      tempDir(),
    ));
    useBuiltTag(server);
    const put = await admin(base, '/api/environments/env_t/triggers', 'PUT', { rules: RULES });
    expect(put.status).toBe(200);
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await shop?.close();
  });

  async function conversions(): Promise<Conversion[]> {
    await server.services.pipeline.flush();
    return (await admin(base, '/api/conversions?env_id=env_t&limit=1000')).body.conversions;
  }

  /** A page with the tag and `init` only, plus `head` (a dataLayer) and `body`. */
  const tagOnly = (head: string, body = '') =>
    shopPage(`${base}/t.js`, `pixeltrail('init','env_t');`, head).replace(
      '<body>shop</body>',
      `<body>${body}</body>`,
    );

  it('CX01 a thank-you URL fires Purchase with value, currency and order id from the dataLayer', async () => {
    pages.set(
      '/thank-you',
      tagOnly(
        `<script>window.dataLayer=[{ecommerce:{value:42.5,currency:'EUR',transaction_id:'T-9'}}];</script>`,
      ),
    );
    const page = await browser.context.newPage();
    await page.goto(`${shopUrl}/thank-you?step=done`);
    const purchase = await storedEvent(server, 'Purchase', 'T-9');
    expect(purchase.event.properties).toMatchObject({
      value: 42.5,
      currency: 'EUR',
      rule_id: 'thanks',
      url: `${shopUrl}/thank-you?step=done`,
    });
    await page.close();
  });

  it('CX02 a click inside #signup fires Lead; a page without the click fires none', async () => {
    pages.set('/join', tagOnly('', '<button id="signup"><span id="inner">Join</span></button>'));
    const page = await browser.context.newPage();
    await page.goto(`${shopUrl}/join`);
    // The rules are in force once rules.js ran; nothing was clicked yet.
    await page.waitForFunction(() => (window as { __ptrOn?: boolean }).__ptrOn === true);
    expect((await conversions()).filter((c) => c.event_name === 'Lead')).toHaveLength(0);
    await page.click('#inner');
    const lead = await waitFor(async () =>
      (await conversions()).find((c) => c.event_name === 'Lead'),
    );
    expect(lead).toBeTruthy();
    await page.close();
  });

  it('CX03 a dataLayer event pushed after load fires Purchase with the pushed values', async () => {
    pages.set('/checkout', tagOnly('<script>window.dataLayer=[];</script>'));
    const page = await browser.context.newPage();
    await page.goto(`${shopUrl}/checkout`);
    await page.waitForFunction(() => (window as { __ptrOn?: boolean }).__ptrOn === true);
    await page.evaluate(() =>
      (window as unknown as { dataLayer: unknown[] }).dataLayer.push({
        event: 'order_placed',
        order: { id: 'DL-1', total: 15 },
      }),
    );
    const purchase = await storedEvent(server, 'Purchase', 'DL-1');
    expect(purchase.event.properties).toMatchObject({ value: 15, currency: 'USD' });
    await page.close();
  });

  it('CX04 a single-page app reaching the thank-you URL with history.pushState fires Purchase once', async () => {
    pages.set('/app', tagOnly('<script>window.dataLayer=[];</script>'));
    const page = await browser.context.newPage();
    await page.goto(`${shopUrl}/app`);
    await page.waitForFunction(() => (window as { __ptrOn?: boolean }).__ptrOn === true);
    await page.evaluate(() => {
      (window as unknown as { dataLayer: unknown[] }).dataLayer.push({
        ecommerce: { value: 7, currency: 'EUR', transaction_id: 'SPA-1' },
      });
      history.pushState({}, '', '/thank-you?spa=1');
      history.replaceState({}, '', '/thank-you?spa=1');
    });
    const purchase = await storedEvent(server, 'Purchase', 'SPA-1');
    expect(purchase.event.properties).toMatchObject({ value: 7, rule_id: 'thanks' });
    expect(purchase.duplicate_count).toBe(0);
    await page.close();
  });
});
