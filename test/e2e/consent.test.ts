/**
 * The tag under a `denied` consent default, in Chromium against a real server: nothing is
 * stored in the browser (no cookie, no localStorage) before `pixeltrail('consent', …)`, events
 * are still counted, and storage starts only once the visitor consents.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { type LocalServer, shopPage, startPageServer, waitFor } from './local-servers.js';

const WAIT_MS = 10_000;

describe.skipIf(!HAS_CHROMIUM)('tag consent in Chromium', () => {
  const pages = new Map<string, string>();
  let server: Server;
  let base: string;
  let shop: LocalServer;
  let shopUrl: string;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    const cfg = testConfig('http://127.0.0.1:9/hook');
    const env = { ...cfg.environments[0], allowed_origins: ['*'] };
    ({ server, base } = await startPixeltrail(
      {
        ...cfg,
        environments: [
          env,
          { ...env, id: 'env_eu', write_key: 'wk_eu', consent_default: 'denied' },
        ],
      },
      tempDir(),
    ));
    // Run from the sources, the server finds no built tag beside it: hand it the bundle.
    execFileSync(process.execPath, ['scripts/build-tag.mjs'], { stdio: 'pipe' });
    const js = readFileSync('dist/public/t.js');
    server.services.tag = { js, gzip: gzipSync(js), etag: '"e2e"' };
    shop = await startPageServer(pages);
    shopUrl = `http://127.0.0.1:${shop.port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await server?.close();
  });

  beforeEach(async () => {
    await browser.context.clearCookies();
    page = await browser.context.newPage();
    return () => page.close();
  });

  /** The stored event with this id, once the beacon has been committed. */
  function stored(env: string, eventId: string) {
    return waitFor(
      async () => {
        await server.services.pipeline.flush();
        return server.services.store.ingest(async (tx) => {
          const key = await tx.findDedup(env, 'Lead', eventId);
          return key ? tx.getEvent(key.event_pk) : null;
        });
      },
      WAIT_MS,
      `event ${eventId}`,
    );
  }

  const browserStorage = async () => ({
    cookies: await browser.context.cookies(),
    local: await page.evaluate(() => Object.keys(localStorage)),
  });

  it('E01 default denied: no cookie, no localStorage before consent; the event is still counted', async () => {
    pages.set(
      '/eu',
      shopPage(
        `${base}/t.js?env_id=env_eu`,
        `pixeltrail('init','env_eu',{autoPageView:false});
         pixeltrail('track','Lead',{},{event_id:'lead-before'});`,
      ),
    );
    await page.goto(`${shopUrl}/eu?click_id=CLK-1`);
    const before = await stored('env_eu', 'lead-before');
    expect(await browserStorage()).toEqual({ cookies: [], local: [] });
    expect(before?.event.consent).toMatchObject({ ads: false, analytics: false });
    expect(before?.event.user.anonymous_id).toBeUndefined();

    await page.evaluate(() => {
      const w = window as unknown as { pixeltrail: (...a: unknown[]) => void };
      w.pixeltrail('consent', { ads: true, analytics: true });
      w.pixeltrail('track', 'Lead', {}, { event_id: 'lead-after' });
    });
    const after = await stored('env_eu', 'lead-after');
    expect(after?.event.consent).toMatchObject({ ads: true, analytics: true });
    const { cookies, local } = await browserStorage();
    const ptid = cookies.find((c) => c.name === '_ptid');
    expect(ptid?.value).toBe(after?.event.user.anonymous_id);
    expect(local).toContain('_ptid');
  });

  it('E02 default granted: the first-party id is stored at once', async () => {
    pages.set(
      '/us',
      shopPage(
        `${base}/t.js?env_id=env_t`,
        `pixeltrail('init','env_t',{autoPageView:false});
         pixeltrail('track','Lead',{},{event_id:'lead-granted'});`,
      ),
    );
    await page.goto(`${shopUrl}/us`);
    const ev = await stored('env_t', 'lead-granted');
    const { cookies } = await browserStorage();
    expect(cookies.find((c) => c.name === '_ptid')?.value).toBe(ev?.event.user.anonymous_id);
  });

  it('E03 withdrawing consent forgets what the tag stored', async () => {
    pages.set(
      '/withdraw',
      shopPage(`${base}/t.js?env_id=env_t`, `pixeltrail('init','env_t',{autoPageView:false});`),
    );
    await page.goto(`${shopUrl}/withdraw`);
    await waitFor(
      async () => (await browser.context.cookies()).some((c) => c.name === '_ptid'),
      WAIT_MS,
      'the _ptid cookie',
    );
    await page.evaluate(() =>
      (window as unknown as { pixeltrail: (...a: unknown[]) => void }).pixeltrail('consent', {
        ads: false,
        analytics: false,
      }),
    );
    expect(await browserStorage()).toMatchObject({ local: [] });
    expect((await browser.context.cookies()).some((c) => c.name === '_ptid')).toBe(false);
  });
});
