/**
 * The browser tag (dist/public/t.js) in Chromium against a fake collector that records what
 * reaches `POST /e`. The shop (127.0.0.1:<shop>) and the collector (127.0.0.1:<collector>)
 * are different origins, as on a real site.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import {
  type LocalServer,
  type RecordedRequest,
  shopPage,
  startLocalServer,
  startPageServer,
  waitFor,
} from './local-servers.js';

const WAIT_MS = 10_000;

interface SentEvent {
  event_name: string;
  event_id: string;
  event_time: number;
  env_id: string;
  user: Record<string, string>;
  properties: Record<string, unknown>;
  consent?: { ads?: boolean; analytics?: boolean };
  landing?: boolean;
}

/**
 * A fake collector: serves the built tag at /t.js (and, renamed, at /lib/pt.js) and answers
 * `POST /e` (and `/lib/e`) with 204.
 */
function startCollector(tag: string): Promise<LocalServer> {
  return startLocalServer((request) => {
    const cors = {
      'access-control-allow-origin': String(request.headers.origin ?? '*'),
      'access-control-allow-credentials': 'true',
    };
    const path = new URL(request.path, 'http://x').pathname;
    if (request.method === 'GET' && (path === '/t.js' || path === '/lib/pt.js')) {
      return { status: 200, headers: { 'content-type': 'text/javascript' }, body: tag };
    }
    if (request.method === 'POST' && (path === '/e' || path === '/lib/e'))
      return { status: 204, headers: cors };
    return undefined;
  });
}

function beacons(collector: LocalServer): RecordedRequest[] {
  return collector.requests.filter((r) => r.method === 'POST' && r.path === '/e');
}

function sentEvents(collector: LocalServer): SentEvent[] {
  return beacons(collector).flatMap((r) => (JSON.parse(r.body) as { events: SentEvent[] }).events);
}

describe.skipIf(!HAS_CHROMIUM)('browser tag', () => {
  const pages = new Map<string, string>();
  let collector: LocalServer;
  let otherCollector: LocalServer;
  let shop: LocalServer;
  let browser: TestBrowser;
  let page: Page;
  let shopUrl: string;
  let tagSrc: string;

  /** Waits until the collector holds an event named `name` whose id passes `match`. */
  function received(name: string, match: (e: SentEvent) => boolean = () => true, from = collector) {
    return waitFor(
      () => sentEvents(from).find((e) => e.event_name === name && match(e)),
      WAIT_MS,
      `a ${name} event`,
    );
  }

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-tag.mjs'], { stdio: 'pipe' });
    const tag = readFileSync('dist/public/t.js', 'utf8');
    collector = await startCollector(tag);
    otherCollector = await startCollector(tag);
    shop = await startPageServer(pages);
    shopUrl = `http://127.0.0.1:${shop.port}`;
    tagSrc = `http://127.0.0.1:${collector.port}/t.js`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([collector, otherCollector, shop].map((s) => s?.close()));
  });

  beforeEach(async () => {
    collector.requests.length = 0;
    otherCollector.requests.length = 0;
    await browser.context.clearCookies();
    page = await browser.context.newPage();
    pages.set('/blank', '<!doctype html><title>blank</title>');
    await page.goto(`${shopUrl}/blank`);
    await page.evaluate(() => localStorage.clear());
    return () => page.close();
  });

  it('T01 replays the queue in order: PageView on init, then the calls that waited', async () => {
    pages.set(
      '/checkout',
      shopPage(
        tagSrc,
        `pixeltrail('track','EarlyBird');
         pixeltrail('init','env_demo');
         pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'ord-1'});`,
      ),
    );
    await page.goto(`${shopUrl}/checkout?step=3`, { referer: 'http://127.0.0.1:9/ad' });
    const purchase = await received('Purchase');
    expect(sentEvents(collector).map((e) => e.event_name)).toEqual([
      'PageView',
      'EarlyBird',
      'Purchase',
    ]);
    expect(purchase).toMatchObject({
      event_id: 'ord-1',
      env_id: 'env_demo',
      properties: {
        value: 49.9,
        currency: 'EUR',
        url: `${shopUrl}/checkout?step=3`,
        referrer: 'http://127.0.0.1:9/ad',
        title: 'E2E shop',
      },
    });
    expect(Number.isInteger(purchase.event_time)).toBe(true);
    expect(Math.abs(purchase.event_time - Date.now() / 1000)).toBeLessThan(60);
    expect(purchase.user.anonymous_id).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(purchase.consent).toBeUndefined();
    // The page load's first event is its landing, the only one that may make a visit.
    expect(sentEvents(collector).map((e) => e.landing)).toEqual([true, false, false]);
  });

  it('T02 sends one sendBeacon request per task, as a text/plain {events:[…]} body', async () => {
    pages.set(
      '/one-batch',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Lead');`),
    );
    await page.goto(`${shopUrl}/one-batch`);
    await received('Lead');
    const [beacon] = beacons(collector);
    expect(beacons(collector)).toHaveLength(1);
    // sendBeacon with a CORS-safelisted body goes out in no-cors mode; fetch would be cors.
    expect(beacon.headers['sec-fetch-mode']).toBe('no-cors');
    expect(beacon.headers['content-type']).toMatch(/^text\/plain/);
    expect(JSON.parse(beacon.body).events.map((e: SentEvent) => e.event_name)).toEqual([
      'PageView',
      'Lead',
    ]);
  });

  it('T03 falls back to fetch with keepalive when sendBeacon is missing', async () => {
    await page.addInitScript(() => {
      delete (Navigator.prototype as Partial<Navigator>).sendBeacon;
    });
    pages.set(
      '/no-beacon',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Lead');`),
    );
    await page.goto(`${shopUrl}/no-beacon`);
    await received('Lead');
    const [request] = beacons(collector);
    expect(request.headers['sec-fetch-mode']).toBe('cors');
    // fetch's own type for a string body, as sendBeacon's: CORS-safelisted, no preflight.
    expect(request.headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(request.headers.origin).toBe(shopUrl);
  });

  it('T04 falls back to fetch when sendBeacon refuses the payload', async () => {
    await page.addInitScript(() => {
      Navigator.prototype.sendBeacon = () => false;
    });
    pages.set(
      '/beacon-refused',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Lead');`),
    );
    await page.goto(`${shopUrl}/beacon-refused`);
    await received('Lead');
    expect(beacons(collector).map((r) => r.headers['sec-fetch-mode'])).toEqual(['cors']);
  });

  it('T05 keeps one anonymous id across page loads in the first-party _ptid cookie', async () => {
    pages.set('/a', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/a`);
    const first = await received('PageView');
    await page.goto(`${shopUrl}/a?again`);
    const second = await received('PageView', (e) => e.properties.url !== first.properties.url);
    expect(second.user.anonymous_id).toBe(first.user.anonymous_id);
    const cookie = (await browser.context.cookies(shopUrl)).find((c) => c.name === '_ptid');
    expect(cookie).toMatchObject({
      value: first.user.anonymous_id,
      domain: '127.0.0.1',
      path: '/',
      sameSite: 'Lax',
    });
    const days = (cookie!.expires - Date.now() / 1000) / 86_400;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366.01);
  });

  it('T05b storage and the beacon wait for idle time, yet a page left in the task that tracked still sends its event and keeps its id', async () => {
    pages.set(
      '/leave',
      shopPage(
        tagSrc,
        `pixeltrail('init','env_demo',{autoPageView:false});
         addEventListener('load', function () {
           pixeltrail('track','Lead',{},{event_id:'lead-leaving'});
           location.href = '/next';
           // Busy until /next has arrived: the page is left before it is ever idle.
           for (var t = Date.now(); Date.now() - t < 500; );
         });`,
      ),
    );
    pages.set('/next', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/leave`);
    const lead = await received('Lead', (e) => e.event_id === 'lead-leaving');
    const next = await received('PageView', (e) => String(e.properties.url).endsWith('/next'));
    expect(lead.user.anonymous_id).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(next.user.anonymous_id).toBe(lead.user.anonymous_id);
  });

  /** Counts the page's `document.cookie` reads in `window.__cookieReads`. */
  async function countCookieReads(): Promise<void> {
    await page.addInitScript(() => {
      const w = window as unknown as { __cookieReads: number };
      const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
      w.__cookieReads = 0;
      Object.defineProperty(Document.prototype, 'cookie', {
        ...cookie,
        get() {
          w.__cookieReads++;
          return cookie.get!.call(this);
        },
      });
    });
  }

  /** Two page loads, the second without localStorage: the id it sends came from the cookie. */
  async function twoVisits(): Promise<[SentEvent, SentEvent, number]> {
    pages.set('/a', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/a`);
    const first = await received('PageView');
    await page.evaluate(() => localStorage.clear());
    await page.goto(`${shopUrl}/a?again`);
    const second = await received('PageView', (e) => e.properties.url !== first.properties.url);
    return [first, second, await page.evaluate(() => (window as any).__cookieReads as number)];
  }

  it('T05c reads the cookies with the Cookie Store API where there is one: no document.cookie read, the id kept', async () => {
    await countCookieReads();
    // When the Cookie Store answered, and when the page first read document.cookie: the tag
    // falls back to document.cookie only for a read that failed or took over its wait
    // (READ_WAIT_MS, src/tag/idle.ts), which a CI box under load has seen happen.
    await page.addInitScript(() => {
      const w = window as unknown as {
        __store: { started?: number; settled?: number; ok?: boolean };
        __firstRead?: number;
        __firstReadStack?: string;
        cookieStore?: { getAll: () => Promise<unknown> };
      };
      w.__store = {};
      const store = w.cookieStore;
      if (!store) return;
      const getAll = store.getAll.bind(store);
      store.getAll = () => {
        w.__store.started ??= performance.now();
        return getAll().then(
          (v) => {
            w.__store.settled ??= performance.now();
            w.__store.ok ??= true;
            return v;
          },
          (e) => {
            w.__store.settled ??= performance.now();
            w.__store.ok ??= false;
            throw e;
          },
        );
      };
      const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
      Object.defineProperty(Document.prototype, 'cookie', {
        ...cookie,
        get() {
          w.__firstRead ??= performance.now();
          // Where the read came from, for the failure's message.
          w.__firstReadStack ??= `${new Error().stack}`;
          return cookie.get!.call(this);
        },
      });
    });
    const [first, second, reads] = await twoVisits();
    expect(second.user.anonymous_id).toBe(first.user.anonymous_id);
    const { store, firstRead, stack } = await page.evaluate(() => {
      const w = window as unknown as {
        __store: { started?: number; settled?: number; ok?: boolean };
        __firstRead?: number;
        __firstReadStack?: string;
      };
      return { store: w.__store, firstRead: w.__firstRead, stack: w.__firstReadStack };
    });
    // The tag asked the Cookie Store.
    expect(store.started).toBeDefined();
    if (
      store.ok === true &&
      store.settled !== undefined &&
      store.settled <= (firstRead ?? Infinity)
    )
      expect(reads, stack).toBe(0);
    // A read before the Cookie Store answered is the fallback: only after the whole wait.
    else if (firstRead !== undefined && store.ok !== false)
      expect(firstRead - (store.started as number), stack).toBeGreaterThanOrEqual(2_900);
  });

  it('T05d without the Cookie Store API (plain-HTTP pages, older browsers) reads document.cookie: the id kept', async () => {
    await countCookieReads();
    await page.addInitScript(() => {
      delete (window as { cookieStore?: unknown }).cookieStore;
    });
    const [first, second, reads] = await twoVisits();
    expect(second.user.anonymous_id).toBe(first.user.anonymous_id);
    expect(reads).toBeGreaterThan(0);
  });

  it('T05e a Cookie Store read that never settles holds the beacon 3 s at most, not until the page is left', async () => {
    await page.addInitScript(() => {
      Object.defineProperty(window, 'cookieStore', {
        configurable: true,
        value: { getAll: () => new Promise(() => undefined) },
      });
    });
    pages.set('/stuck', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/stuck`);
    const view = await received('PageView');
    expect(view.user.anonymous_id).toBeTruthy();
    await page.evaluate(() =>
      (window as unknown as { pixeltrail: (...a: unknown[]) => void }).pixeltrail('track', 'Later'),
    );
    const later = await received('Later');
    expect(later.user.anonymous_id).toBe(view.user.anonymous_id);
  });

  it('T05f a Cookie Store that throws (a sandboxed page) neither reaches the page nor stops the events', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript(() => {
      Object.defineProperty(window, 'cookieStore', {
        configurable: true,
        get() {
          throw new DOMException('denied', 'SecurityError');
        },
      });
    });
    pages.set(
      '/throws',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Lead');`),
    );
    await page.goto(`${shopUrl}/throws`);
    await received('Lead');
    expect(errors).toEqual([]);
  });

  it('T05g under a denied default, a pixel cookie set before consent is sent once consent comes', async () => {
    pages.set(
      '/denied',
      shopPage(
        tagSrc,
        `pixeltrail('init','env_demo',{consentDefault:'denied'});
         addEventListener('load', function () { setTimeout(function () {
           document.cookie = '_fbp=fb.1.7.7; path=/';
           pixeltrail('consent', {ads: true, analytics: true});
           pixeltrail('track', 'Lead');
         }, 300); });`,
      ),
    );
    await page.goto(`${shopUrl}/denied`);
    const lead = await received('Lead');
    expect(lead.user.fbp).toBe('fb.1.7.7');
  });

  it('T06 recovers the anonymous id from localStorage when cookies were cleared', async () => {
    pages.set('/a', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/a`);
    const first = await received('PageView');
    await browser.context.clearCookies();
    await page.goto(`${shopUrl}/a?again`);
    const second = await received('PageView', (e) => e.properties.url !== first.properties.url);
    expect(second.user.anonymous_id).toBe(first.user.anonymous_id);
  });

  it('T07 carries click_id and imp_id from the landing URL to events on later pages', async () => {
    pages.set('/landing', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    pages.set(
      '/thanks',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Purchase');`),
    );
    await page.goto(`${shopUrl}/landing?click_id=CLK-1&pt_imp_id=IMP-1&utm_source=x`);
    const landing = await received('PageView');
    expect(landing.user).toMatchObject({ click_id: 'CLK-1', imp_id: 'IMP-1' });
    await page.goto(`${shopUrl}/thanks`);
    const purchase = await received('Purchase');
    expect(purchase.properties.url).toBe(`${shopUrl}/thanks`);
    expect(purchase.user).toMatchObject({ click_id: 'CLK-1', imp_id: 'IMP-1' });
  });

  it('T07b carries platform ids from the landing URL and pixel cookies to later pages', async () => {
    await browser.context.addCookies([
      { name: '_fbp', value: 'fb.1.123.456', url: shopUrl },
      // A value holding `=` (base64) is read whole.
      { name: '_ttp', value: 'dHRw=x==', url: shopUrl },
    ]);
    pages.set('/landing', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    pages.set(
      '/thanks',
      shopPage(tagSrc, `pixeltrail('init','env_demo'); pixeltrail('track','Purchase');`),
    );
    await page.goto(`${shopUrl}/landing?fbclid=ABC&gclid=G1&ttclid=T1&epik=E1`);
    const landing = await received('PageView');
    await page.goto(`${shopUrl}/thanks`);
    const purchase = await received('Purchase');
    expect(purchase.properties.url).toBe(`${shopUrl}/thanks`);
    expect(purchase.user).toMatchObject({
      fbp: 'fb.1.123.456',
      ttp: 'dHRw=x==',
      gclid: 'G1',
      ttclid: 'T1',
      epik: 'E1',
    });
    expect(purchase.user.fbc).toMatch(/^fb\.1\.\d+\.ABC$/);
    // The click time is fixed at landing, not regenerated on each page.
    expect(purchase.user.fbc).toBe(landing.user.fbc);
    expect(Math.abs(Number(purchase.user.fbc.split('.')[2]) - Date.now())).toBeLessThan(60_000);
  });

  it('T08 maps GA4 dataLayer ecommerce events, before and after load; ignores others', async () => {
    const head = `<script>
      window.dataLayer = [{event:'gtm.js'}, {event:'purchase', ecommerce:{transaction_id:'T-9',
        value:'12.50', currency:'USD', items:[{item_id:'sku1'},{item_id:'sku2',quantity:2}]}}];
      function gtag(){dataLayer.push(arguments);}
    </script>`;
    pages.set('/datalayer', shopPage(tagSrc, `pixeltrail('init','env_demo');`, head));
    await page.goto(`${shopUrl}/datalayer`);
    const purchase = await received('Purchase');
    expect(purchase).toMatchObject({
      event_id: 'T-9',
      properties: { value: 12.5, currency: 'USD', content_ids: ['sku1', 'sku2'], num_items: 3 },
    });
    await page.evaluate(() => {
      const w = window as unknown as { dataLayer: unknown[]; gtag(...args: unknown[]): void };
      w.dataLayer.push({ ecommerce: null });
      w.dataLayer.push({ event: 'add_to_cart', ecommerce: { items: [{ item_id: 7 }] } });
      w.gtag('event', 'generate_lead', { value: 5, currency: 'EUR' });
      w.gtag('event', 'page_view');
      w.dataLayer.push({ event: 'view_item', ecommerce: { items: [{ item_id: 'sku3' }] } });
    });
    await received('ViewContent');
    expect(sentEvents(collector).map((e) => e.event_name)).toEqual([
      'PageView',
      'Purchase',
      'AddToCart',
      'Lead',
      'ViewContent',
    ]);
    expect(await received('AddToCart')).toMatchObject({
      properties: { content_ids: ['7'], num_items: 1 },
    });
    expect(await received('Lead')).toMatchObject({ properties: { value: 5, currency: 'EUR' } });
  });

  it('T09 sends to the endpoint named in init instead of the script origin', async () => {
    pages.set(
      '/endpoint',
      shopPage(
        tagSrc,
        `pixeltrail('init','env_demo',{endpoint:'http://127.0.0.1:${otherCollector.port}/'});
         pixeltrail('track','Lead');`,
      ),
    );
    await page.goto(`${shopUrl}/endpoint`);
    await received('Lead', () => true, otherCollector);
    expect(sentEvents(otherCollector).map((e) => e.event_name)).toEqual(['PageView', 'Lead']);
    expect(beacons(collector)).toHaveLength(0);
  });

  it('T09b without an endpoint, sends beside the script, under whatever name and query it was loaded', async () => {
    const renamed = `http://127.0.0.1:${collector.port}/lib/pt.js?env_id=env_demo`;
    pages.set('/renamed', shopPage(renamed, `pixeltrail('init','env_demo');`));
    await page.goto(`${shopUrl}/renamed`);
    const sent = await waitFor(
      () => collector.requests.find((r) => r.method === 'POST' && r.path === '/lib/e'),
      WAIT_MS,
      'a beacon to /lib/e',
    );
    expect(JSON.parse(sent.body)).toMatchObject({ events: [{ event_name: 'PageView' }] });
    expect(beacons(collector)).toHaveLength(0);
  });

  it('T09c a copy pasted inline into the page, without an endpoint, sends to the origin of the page', async () => {
    const inline = readFileSync('dist/public/t.js', 'utf8');
    pages.set(
      '/products/shoe',
      `<!doctype html><html><head><title>inline</title>
<script>pixeltrail=function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};
pixeltrail('init','env_demo',{rules:false});</script>
<script>${inline}</script></head><body>shoe</body></html>`,
    );
    await page.goto(`${shopUrl}/products/shoe?x=1#top`);
    const sent = await waitFor(
      () => shop.requests.find((r) => r.method === 'POST' && r.path.endsWith('/e')),
      WAIT_MS,
      'a beacon from the inline copy',
    );
    // Its stack names the page (without the fragment), not a script of its own.
    expect(sent.path).toBe('/e');
    expect(JSON.parse(sent.body)).toMatchObject({ events: [{ event_name: 'PageView' }] });
  });

  it('T10 identify and consent shape later events; autoPageView false: no PageView', async () => {
    pages.set(
      '/identified',
      shopPage(
        tagSrc,
        `pixeltrail('consent',{ads:false,analytics:true});
         pixeltrail('init','env_demo',{autoPageView:false});
         pixeltrail('track','Lead');
         pixeltrail('identify','u42',{email:'A@b.com',phone:'+1 555 0100'});
         pixeltrail('consent',{ads:true,analytics:true});
         pixeltrail('page',{section:'account'});
         pixeltrail('track','Purchase',{},{user:{user_id:'u43'}});`,
      ),
    );
    await page.goto(`${shopUrl}/identified`);
    await received('Purchase');
    const [lead, pageView, purchase] = sentEvents(collector);
    expect([lead.event_name, pageView.event_name]).toEqual(['Lead', 'PageView']);
    expect(lead.consent).toEqual({ ads: false, analytics: true });
    expect(lead.user.user_id).toBeUndefined();
    expect(pageView).toMatchObject({
      user: { user_id: 'u42', email: 'A@b.com', phone: '+1 555 0100' },
      properties: { section: 'account' },
      consent: { ads: true, analytics: true },
    });
    expect(purchase.user.user_id).toBe('u43');
    expect(new Set(sentEvents(collector).map((e) => e.event_id)).size).toBe(3);
  });

  it('T11 calls queued before t.js loads apply in the order made: a dataLayer purchase pushed after identify and consent carries them', async () => {
    // Everything below runs before the tag is even requested, as on a slow network.
    pages.set(
      '/queued',
      `<!doctype html><html><head><title>E2E shop</title>
<script>
  window.pixeltrail=window.pixeltrail||function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};
  pixeltrail('init','env_demo');
  pixeltrail('identify','u77',{email:'buyer@example.com'});
  pixeltrail('consent',{ads:true,analytics:true});
  window.dataLayer=window.dataLayer||[];
  dataLayer.push({event:'purchase',ecommerce:{transaction_id:'T-ORDER',value:30,currency:'EUR'}});
</script>
<script async src="${tagSrc}"></script>
</head><body>shop</body></html>`,
    );
    await page.goto(`${shopUrl}/queued`);
    const purchase = await received('Purchase');
    expect(purchase).toMatchObject({
      event_id: 'T-ORDER',
      user: { user_id: 'u77', email: 'buyer@example.com' },
      consent: { ads: true, analytics: true },
      properties: { value: 30, currency: 'EUR' },
    });
    expect(sentEvents(collector).map((e) => e.event_name)).toEqual(['PageView', 'Purchase']);
  });

  it("T13 the tag runs no call while the page loads: they wait for idle time behind the stub's, and a page closed before it still sends them with an id", async () => {
    // Idle time never comes: only the page being left runs the held calls.
    await page.addInitScript(() => {
      window.requestIdleCallback = () => 0;
    });
    pages.set(
      '/held',
      shopPage(
        tagSrc,
        `pixeltrail('init','env_demo'); pixeltrail('track','Lead',{},{event_id:'held-lead'});`,
      ),
    );
    await page.goto(`${shopUrl}/held`);
    const loaded = await page.evaluate(() => {
      const w = window as unknown as {
        pixeltrail: ((...a: unknown[]) => void) & { loaded?: boolean };
      };
      w.pixeltrail('track', 'AfterLoad');
      // The tag has taken the stub's place, but not yet read the dataLayer (init makes one).
      return [w.pixeltrail.loaded, typeof (window as { dataLayer?: unknown }).dataLayer];
    });
    expect(loaded).toEqual([true, 'undefined']);
    await page.close();
    await received('AfterLoad');
    const events = sentEvents(collector);
    expect(events.map((e) => e.event_name)).toEqual(['PageView', 'Lead', 'AfterLoad']);
    expect(events[1].user.anonymous_id).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(new Set(events.map((e) => e.user.anonymous_id)).size).toBe(1);
  });

  it('T12 reads the click id /c appended (pt_click_id, or the name init gives), before a click_id the URL carried anyway', async () => {
    pages.set('/landing', shopPage(tagSrc, `pixeltrail('init','env_demo');`));
    pages.set(
      '/named',
      shopPage(tagSrc, `pixeltrail('init','env_demo',{clickIdParam:'ref_click'});`),
    );
    await page.goto(`${shopUrl}/landing?click_id=AFFILIATE-9&pt_click_id=CLK-PT`);
    expect((await received('PageView')).user.click_id).toBe('CLK-PT');
    const kept = (await browser.context.cookies(shopUrl)).find((c) => c.name === '_ptclk');
    // Kept as long as Google's conversion linker keeps a click: the server's windows decide.
    expect(kept?.value).toBe('CLK-PT');
    expect((kept?.expires ?? 0) - Date.now() / 1000).toBeGreaterThan(89 * 86_400);
    collector.requests.length = 0;
    await page.goto(`${shopUrl}/named?ref_click=CLK-NAMED`);
    expect((await received('PageView')).user.click_id).toBe('CLK-NAMED');
  });
});
