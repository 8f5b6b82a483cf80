/**
 * The `ptid` cookie in Chromium over plain HTTP on loopback (issue 6): the server sets it
 * `SameSite=Lax`, HttpOnly and not Secure, and the browser sends it back on the next hit, on
 * 127.0.0.1 and on localhost alike. A cross-site pixel over plain HTTP gets no cookie: that
 * needs HTTPS (`SameSite=None; Secure`), and the IP+UA fallback carries the match meanwhile.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { type LocalServer, startPageServer, waitFor } from './local-servers.js';

const WAIT_MS = 10_000;

describe.skipIf(!HAS_CHROMIUM)('ptid cookie over plain HTTP in Chromium', () => {
  const pages = new Map<string, string>();
  let server: Server;
  let serverPort: string;
  let ads: LocalServer;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    let base: string;
    ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
    serverPort = new URL(base).port;
    ads = await startPageServer(pages);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await ads?.close();
    await server?.close();
  });

  beforeEach(async () => {
    await browser.context.clearCookies();
    page = await browser.context.newPage();
    return () => page.close();
  });

  /** Shows a page on `pageHost` whose impression pixel is served from `pixelHost`. */
  async function showAd(pageHost: string, pixelHost: string, impId: string) {
    const pixel = `http://${pixelHost}:${serverPort}/i?env_id=env_t&dest_id=dsp1&imp_id=${impId}`;
    pages.set(`/ad/${impId}`, `<!doctype html><title>ad</title><img src="${pixel}" alt="">`);
    const seen = page.waitForResponse((r) => r.url() === pixel, { timeout: WAIT_MS });
    await page.goto(`http://${pageHost}:${ads.port}/ad/${impId}`);
    const response = await seen;
    return { cookieSent: (await response.request().allHeaders()).cookie };
  }

  /** The impression's stored touch. */
  function touch(impId: string) {
    return waitFor(
      async () => {
        await server.services.pipeline.flush();
        const [touch] = await server.services.store.ingest((tx) =>
          tx.findTouches({ env_id: 'env_t', anonymous_ids: [], touch_ids: [impId], since: 0 }),
        );
        return touch;
      },
      WAIT_MS,
      `touch ${impId}`,
    );
  }
  const touchCookie = async (impId: string) => (await touch(impId)).anonymous_id;

  it.each(['127.0.0.1', 'localhost'])(
    'PC01 on %s the pixel sets a Lax, HttpOnly, not-Secure ptid and gets it back on the next hit',
    async (host) => {
      const first = await showAd(host, host, `IMP-PC1-${host}`);
      expect(first.cookieSent).toBeUndefined();
      const cookies = await browser.context.cookies(`http://${host}:${serverPort}`);
      const ptid = cookies.find((c) => c.name === 'ptid');
      expect(ptid).toMatchObject({ domain: host, sameSite: 'Lax', secure: false, httpOnly: true });
      expect(await touchCookie(`IMP-PC1-${host}`)).toBe(ptid?.value);

      const second = await showAd(host, host, `IMP-PC2-${host}`);
      expect(second.cookieSent).toBe(`ptid=${ptid?.value}`);
      expect(await touchCookie(`IMP-PC2-${host}`)).toBe(ptid?.value);
      const after = await browser.context.cookies(`http://${host}:${serverPort}`);
      expect(after.filter((c) => c.name === 'ptid').map((c) => c.value)).toEqual([ptid?.value]);
    },
  );

  it('PC02 a cross-site pixel over plain HTTP (ad on localhost, server on 127.0.0.1) gets no cookie', async () => {
    await showAd('localhost', '127.0.0.1', 'IMP-PC3');
    const cookies = await browser.context.cookies(`http://127.0.0.1:${serverPort}`);
    expect(cookies.find((c) => c.name === 'ptid')).toBeUndefined();
    // The touch is still kept, to be matched by IP and user agent.
    const kept = await touch('IMP-PC3');
    expect(kept.ip).toBeTruthy();
    expect(kept.user_agent).toMatch(/Chrome/);
  });
});
