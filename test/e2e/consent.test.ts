/**
 * The tag under a `denied` consent default, in Chromium against a real server: nothing is
 * stored in the browser (no cookie, no localStorage) before `pixeltrail('consent', …)`, events
 * are still counted, and storage starts only once the visitor consents.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { GppModel } from '@iabgpp/cmpapi';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { gppString } from '../helpers/gpp.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { storedByKey } from '../helpers/stored-event.js';
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
          { ...env, id: 'env_cmp', write_key: 'wk_cmp', follow_cmp: true },
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
        return storedByKey(server.services.store, env, 'Lead', eventId);
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

  /** A minimal TCF v2 CMP: shows its banner, then `__tcfDecide(purpose1)` tells every listener. */
  // As TCF v2.2 CMPs do, a listener added after the visitor's choice is called with it at once:
  // the tag adds its listener at idle time, which may come after the test's choice.
  const FAKE_TCF = `<script>
    var listeners = [];
    var decided = null;
    window.__tcfapi = function (command, version, callback) {
      if (command !== 'addEventListener') return;
      listeners.push(callback);
      callback(decided || { eventStatus: 'cmpuishown', gdprApplies: true, purpose: { consents: {} } }, true);
    };
    window.__tcfDecide = function (purpose1) {
      decided = { eventStatus: 'useractioncomplete', gdprApplies: true, tcString: 'x',
        purpose: { consents: { 1: purpose1, 2: purpose1 } }, vendor: { consents: {} } };
      listeners.forEach(function (callback) { callback(decided, true); });
    };
  </script>`;

  const run = (calls: [string, ...unknown[]][]) =>
    page.evaluate((list) => {
      const w = window as unknown as { pixeltrail: (...a: unknown[]) => void } & Record<
        string,
        (...a: unknown[]) => void
      >;
      for (const [name, ...args] of list)
        name.startsWith('__') ? w[name](...args) : w.pixeltrail(name, ...args);
    }, calls);

  it('E04 init {cmp: true} follows a TCF CMP: nothing stored while its banner is up; purpose 1 stores, its refusal forgets', async () => {
    pages.set(
      '/tcf',
      shopPage(
        `${base}/t.js?env_id=env_eu`,
        `pixeltrail('init','env_eu',{autoPageView:false,cmp:true});
         pixeltrail('track','Lead',{},{event_id:'cmp-before'});`,
        FAKE_TCF,
      ),
    );
    await page.goto(`${shopUrl}/tcf`);
    expect((await stored('env_eu', 'cmp-before'))?.event.consent).toMatchObject({ ads: false });
    expect(await browserStorage()).toEqual({ cookies: [], local: [] });

    await run([
      ['__tcfDecide', true],
      ['track', 'Lead', {}, { event_id: 'cmp-granted' }],
    ]);
    const granted = await stored('env_eu', 'cmp-granted');
    expect(granted?.event.consent).toMatchObject({ ads: true, analytics: true });
    const { cookies } = await browserStorage();
    expect(cookies.find((c) => c.name === '_ptid')?.value).toBe(granted?.event.user.anonymous_id);

    await run([
      ['__tcfDecide', false],
      ['track', 'Lead', {}, { event_id: 'cmp-refused' }],
    ]);
    expect((await stored('env_eu', 'cmp-refused'))?.event.consent).toMatchObject({
      ads: false,
      analytics: false,
    });
    expect(await browserStorage()).toEqual({ cookies: [], local: [] });
  });

  it('E05 follow_cmp on the environment: a GPP CMP whose usnat section opted out of sale denies ads', async () => {
    // parsedSections as the IAB's CMP API reports them (GppModel.toObject()).
    const ping = {
      signalStatus: 'ready',
      applicableSections: [7],
      parsedSections: new GppModel(gppString({ usnat: { SaleOptOut: 1 } })).toObject(),
    };
    const fakeGpp = `<script>window.__gpp = function (command, callback) {
      if (command === 'addEventListener')
        callback({ eventName: 'signalStatus', data: 'ready', pingData: ${JSON.stringify(ping)} }, true);
    };</script>`;
    pages.set(
      '/gpp',
      shopPage(
        `${base}/t.js?env_id=env_cmp`,
        `pixeltrail('init','env_cmp',{autoPageView:false});
         pixeltrail('track','Lead',{},{event_id:'gpp-opted-out'});`,
        fakeGpp,
      ),
    );
    await page.goto(`${shopUrl}/gpp`);
    const ev = await stored('env_cmp', 'gpp-opted-out');
    expect(ev?.event.consent).toMatchObject({ ads: false });
    expect(ev?.event.consent.signals).toContain('stated');
  });

  it('E06 a returning visitor who consented through the CMP keeps their ids on the next page, the CMP answering after init', async () => {
    // A CMP that remembers the earlier choice and answers once its script has loaded.
    const rememberingTcf = `<script>
      window.__tcfapi = function (command, version, callback) {
        if (command !== 'addEventListener') return;
        setTimeout(function () {
          callback({ eventStatus: 'tcloaded', gdprApplies: true, tcString: 'x',
            purpose: { consents: { 1: true } }, vendor: { consents: {} } }, true);
          window.__answered = true;
        }, 50);
      };
    </script>`;
    pages.set(
      '/landing',
      shopPage(
        `${base}/t.js?env_id=env_eu`,
        `pixeltrail('init','env_eu',{autoPageView:false,cmp:true});`,
        FAKE_TCF,
      ),
    );
    pages.set(
      '/checkout',
      shopPage(
        `${base}/t.js?env_id=env_eu`,
        `pixeltrail('init','env_eu',{autoPageView:false,cmp:true});`,
        rememberingTcf,
      ),
    );
    await page.goto(`${shopUrl}/landing?click_id=CLK-E06`);
    await run([
      ['__tcfDecide', true],
      ['track', 'Lead', {}, { event_id: 'e06-landing' }],
    ]);
    const landing = await stored('env_eu', 'e06-landing');
    expect(landing?.event.user.anonymous_id).toBeTruthy();
    expect(landing?.event.user.click_id).toBe('CLK-E06');

    await page.goto(`${shopUrl}/checkout`);
    await page.waitForFunction(() => (window as { __answered?: boolean }).__answered === true);
    await run([['track', 'Lead', {}, { event_id: 'e06-checkout' }]]);
    const checkout = await stored('env_eu', 'e06-checkout');
    expect(checkout?.event.consent).toMatchObject({ ads: true });
    expect(checkout?.event.user.anonymous_id).toBe(landing?.event.user.anonymous_id);
    expect(checkout?.event.user.click_id).toBe('CLK-E06');
  });
});
