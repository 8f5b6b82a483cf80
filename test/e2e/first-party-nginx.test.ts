/**
 * First-party mode behind a real nginx: the shop's own host serves the pages and, under
 * `/metrics-xyz/`, pixeltrail (path_prefix), so the tag, its beacon and the id cookie are all
 * on the shop's host and the snippet names no other host.
 */
import type { Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { freePort } from '../helpers/child-server.js';
import { HAS_NGINX, type Nginx, startNginx } from '../helpers/nginx.js';
import { startPixeltrail, tempDir, testConfig, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedEvent, storedIp } from '../helpers/stored-event.js';
import { type LocalServer, shopPage, startPageServer } from './local-servers.js';

const PREFIX = '/metrics-xyz';
const YEAR_S = 365 * 86_400;

describe.skipIf(!HAS_CHROMIUM || !HAS_NGINX)('first-party mode through nginx', () => {
  const pages = new Map<string, string>();
  let shop: LocalServer;
  let hook: Receiver;
  let server: Server;
  let base: string;
  let nginx: Nginx;
  let browser: TestBrowser;

  beforeAll(async () => {
    shop = await startPageServer(pages);
    hook = await startReceiver(() => 200);
    const port = await freePort();
    const shopOrigin = `http://127.0.0.1:${port}`;
    ({ server, base } = await startPixeltrail(
      {
        ...testConfig(`${hook.url}/hook`, {}, { allowed_origins: [shopOrigin] }),
        // Two proxies: the CDN that wrote the visitor's address (below), and nginx.
        trust_proxy: 2,
        path_prefix: PREFIX,
      },
      tempDir(),
    ));
    useBuiltTag(server);
    const upstream = new URL(base).host;
    // The README's nginx example: the prefix is forwarded as it is.
    nginx = await startNginx(
      () => `
    location ${PREFIX}/ {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    location / {
      proxy_pass http://127.0.0.1:${shop.port};
    }`,
      port,
    );
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await server?.close();
    await hook?.close();
    await shop?.close();
  });

  it('FP01 tag, beacon and an HttpOnly year-long ptid cookie all come from the shop host; the event is stored with the visitor IP', async () => {
    pages.set(
      '/thank-you',
      shopPage(
        `${PREFIX}/t.js`,
        `pixeltrail('init','env_t');
         pixeltrail('track','Purchase',{value:20,currency:'EUR'},{event_id:'fp-order-1'});`,
      ),
    );
    const page = await browser.context.newPage();
    const requests: Request[] = [];
    page.on('request', (r) => requests.push(r));
    // The visitor's address as a CDN in front of nginx would pass it on; nginx appends its peer.
    await page.setExtraHTTPHeaders({ 'x-forwarded-for': '203.0.113.50' });
    await page.goto(`${nginx.origin}/thank-you`);
    const stored = await storedEvent(server, 'Purchase', 'fp-order-1');
    expect(stored.event.user.ip).toBe(storedIp(server, '203.0.113.50'));

    // The beacon leaves at idle time: the browser may report it after the server stored it.
    const paths = await waitFor(() => {
      const seen = requests.map((r) => new URL(r.url()).pathname);
      return seen.includes(`${PREFIX}/e`) && seen;
    });
    expect(paths).toContain(`${PREFIX}/t.js`);
    const hosts = new Set(requests.map((r) => new URL(r.url()).origin));
    expect([...hosts]).toEqual([nginx.origin]);

    const cookie = await waitFor(async () =>
      (await browser.context.cookies(nginx.origin)).find((c) => c.name === 'ptid'),
    );
    expect(cookie).toMatchObject({ domain: '127.0.0.1', path: '/', httpOnly: true });
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + YEAR_S - 86_400);
    // The server-set cookie carries the tag's own first-party id.
    const tagId = await page.evaluate(() => /(?:^|; )_ptid=([^;]*)/.exec(document.cookie)?.[1]);
    expect(cookie?.value).toBe(tagId);
    await page.close();
  });

  it('FP02 the next page carries the HttpOnly cookie back: the server sees it even if the tag id is gone', async () => {
    pages.set(
      '/later',
      shopPage(
        `${PREFIX}/t.js`,
        `pixeltrail('init','env_t',{autoPageView:false});
         pixeltrail('track','Lead',{},{event_id:'fp-lead-1'});`,
      ),
    );
    const ptid = (await browser.context.cookies(nginx.origin)).find((c) => c.name === 'ptid');
    const page = await browser.context.newPage();
    pages.set('/blank', '<!doctype html><title>blank</title>');
    await page.goto(`${nginx.origin}/blank`);
    // Script-set storage wiped (as Safari does to script cookies after 7 days).
    await browser.context.clearCookies({ name: '_ptid' });
    await page.evaluate(() => localStorage.clear());
    await page.goto(`${nginx.origin}/later`);
    const lead = await storedEvent(server, 'Lead', 'fp-lead-1');
    expect(lead.event.user.cookie_id).toBe(ptid?.value);
    expect(lead.event.user.anonymous_id).not.toBe(ptid?.value);
    await page.close();
  });
});
