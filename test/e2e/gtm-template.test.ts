/**
 * The Google Tag Manager template (integrations/gtm/template.tpl): its sections parse, its
 * permissions cover what its code requires, and its sandboxed code — run in Chromium over a
 * small stand-in for GTM's sandbox APIs — loads the real tag from pixeltrail and sends a
 * Purchase mapped from the template's fields.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { storedEvent } from '../helpers/stored-event.js';
import { type LocalServer, startPageServer } from './local-servers.js';

const TPL = readFileSync('integrations/gtm/template.tpl', 'utf8');

/** The text of one `___NAME___` section. */
function section(name: string): string {
  const start = TPL.indexOf(`___${name}___`);
  const rest = TPL.slice(start + name.length + 6);
  const next = rest.search(/\n___[A-Z_]+___/);
  return (next < 0 ? rest : rest.slice(0, next)).trim();
}

/** GTM's sandbox APIs the template uses, as the page-side stand-in implements them. */
const SANDBOX_SHIM = `
window.require = function (name) {
  if (name === 'createArgumentsQueue') return function (fnKey, arrayKey) {
    if (!window[fnKey]) window[fnKey] = function () { (window[fnKey].q = window[fnKey].q || []).push(arguments); };
    return function () { return window[fnKey].apply(null, arguments); };
  };
  if (name === 'injectScript') return function (url, ok, fail) {
    var s = document.createElement('script'); s.src = url; s.onload = ok; s.onerror = fail;
    document.head.appendChild(s);
  };
  if (name === 'makeNumber') return Number;
  if (name === 'makeString') return String;
  throw new Error('not in the shim: ' + name);
};`;

describe('Google Tag Manager template', () => {
  it('GT01 INFO, parameters and permissions are valid JSON; every required API is permitted', () => {
    expect(JSON.parse(section('INFO'))).toMatchObject({ type: 'TAG', containerContexts: ['WEB'] });
    const params = JSON.parse(section('TEMPLATE_PARAMETERS')) as { name: string }[];
    expect(params.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'collectorUrl',
        'envId',
        'eventType',
        'eventName',
        'value',
        'eventId',
      ]),
    );
    const perms = JSON.parse(section('WEB_PERMISSIONS')) as {
      instance: { key: { publicId: string } };
    }[];
    const ids = perms.map((p) => p.instance.key.publicId).sort();
    expect(ids).toEqual(['access_globals', 'inject_script']);
    const required = [
      ...section('SANDBOXED_JS_FOR_WEB_TEMPLATE').matchAll(/require\('(\w+)'\)/g),
    ].map((m) => m[1]);
    // makeNumber and makeString need no permission; the others map to the two above.
    expect(required.sort()).toEqual([
      'createArgumentsQueue',
      'injectScript',
      'makeNumber',
      'makeString',
    ]);
  });

  describe.skipIf(!HAS_CHROMIUM)('its code in Chromium', () => {
    const pages = new Map<string, string>();
    let shop: LocalServer;
    let server: Server;
    let base: string;
    let browser: TestBrowser;

    beforeAll(async () => {
      shop = await startPageServer(pages);
      const shopUrl = `http://127.0.0.1:${shop.port}`;
      ({ server, base } = await startPixeltrail(
        testConfig('http://127.0.0.1:9/hook', {}, { allowed_origins: [shopUrl] }),
        tempDir(),
      ));
      useBuiltTag(server);
      browser = await launchBrowser();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await shop?.close();
    });

    it('GT02 a Purchase tag with GTM variables loads t.js from the collector and sends the mapped event', async () => {
      const data = {
        collectorUrl: `${base}/`,
        envId: 'env_t',
        eventType: 'track',
        eventName: 'Purchase',
        value: '19.90',
        currency: 'EUR',
        eventId: 'gtm-order-1',
        contentIds: 'sku1,sku2',
        email: 'Buyer@Example.com',
        adsConsent: 'granted',
      };
      pages.set(
        '/gtm',
        `<!doctype html><title>GTM shop</title><script>${SANDBOX_SHIM}
        (function (data) {
          data.gtmOnSuccess = function () { window.gtmDone = true; };
          data.gtmOnFailure = function () { window.gtmDone = false; };
          ${section('SANDBOXED_JS_FOR_WEB_TEMPLATE')}
        })(${JSON.stringify(data)});</script>`,
      );
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${shop.port}/gtm`);
      await page.waitForFunction(() => (window as { gtmDone?: boolean }).gtmDone === true);
      const purchase = await storedEvent(server, 'Purchase', 'gtm-order-1');
      expect(purchase.event.properties).toMatchObject({
        value: 19.9,
        currency: 'EUR',
        content_ids: ['sku1', 'sku2'],
      });
      expect(purchase.event.user.email_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(purchase.event.consent.ads).toBe(true);
      await page.close();
    });
  });
});
