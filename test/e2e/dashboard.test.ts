/**
 * The dashboard in Chromium against a real server: log in, fire an impression pixel and a
 * purchase in another tab and watch both arrive in the live debugger with their attribution,
 * see a report count change, retry a failed delivery, pause and test a destination, create a
 * destination in the form and see a pixel and purchase delivered to it. Saves a
 * screenshot of each page (1280 px and 390 px wide) under test-results/ and fails on any
 * console error. Needs `npm run build` (dist/ui).
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_DIR } from '../../src/http/admin/dashboard.js';
import type { Server } from '../../src/server.js';
import { signedSkan, testSigner } from '../fixtures/apple-postbacks.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Received, type Receiver, startReceiver } from '../helpers/receiver.js';

const SHOTS = path.resolve('test-results', 'dashboard');
const UI_WAIT_MS = 15_000;
const HAS_UI = existsSync(path.join(UI_DIR, 'index.html'));
const postbackSigner = testSigner();
if (!HAS_UI) console.warn('dashboard e2e skipped: dist/ui is missing (npm run build)');

describe.skipIf(!HAS_CHROMIUM || !HAS_UI)('dashboard in Chromium', () => {
  let hook: Receiver;
  /** The receiver of the destination the test creates in the dashboard. */
  let uiHook: Receiver;
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  let shopTab: Page;
  const consoleErrors: string[] = [];
  let refusedOnce = false;

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SHOTS, `${name}-390.png`), fullPage: true });
    // At phone width nothing but the tables' own scroll boxes may overflow sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow, `${name} fits a 390 px screen`).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  const watchConsole = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${p.url()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${e.message}`));
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // The first delivery of ord-e2e-1 is refused (400: not retried), so there is one to retry.
    hook = await startReceiver((rec) => {
      if (!refusedOnce && rec.body.includes('"ord-e2e-1"')) {
        refusedOnce = true;
        return { status: 400, body: { error: 'bad pixel id' } };
      }
      return 200;
    });
    ({ server, base } = await startPixeltrail(
      // U07 makes a destination in the form aimed at a receiver on 127.0.0.1: allowed here.
      {
        ...testConfig(`${hook.url}/hook`, { events: ['Purchase', 'Lead', 'app_install'] }),
        allow_private_destinations: ['127.0.0.0/8'],
        // U04 shows Apple's postbacks of this app beside the report.
        apps: [{ app_id: 1234567890, platform: 'ios', env_id: 'env_t' }],
        apple_postbacks: { test_keys: [{ id: 'e2e', public_key: postbackSigner.publicKey }] },
      },
      tempDir(),
    ));
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    shopTab = await browser.context.newPage();
    // The dashboard's tab in front: a tab behind another runs no animation frames, and each
    // click waited ~2 s there for Playwright's check that its target is not moving.
    await page.bringToFront();
    watchConsole(page);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hook?.close();
    await uiHook?.close();
  });

  /** The ad (impression pixel) and the purchase (event pixel) in the other tab, same browser. */
  async function adThenPurchase(impId: string, orderId: string, dest = 'dsp1') {
    await shopTab.goto(
      `${base}/i?env_id=env_t&dest_id=${dest}&imp_id=${impId}&campaign_id=c-e2e&creative_id=cr-e2e`,
    );
    await server.services.pipeline.flush();
    const res = await shopTab.goto(
      `${base}/p?env_id=env_t&ev=Purchase&eid=${orderId}&value=42&currency=EUR`,
    );
    expect(res?.headers()['content-type']).toBe('image/gif');
  }

  it('U01 logs in with the admin token', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token').fill('adm');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Live debugger' }).waitFor({ timeout: UI_WAIT_MS });
    await page.getByRole('status').filter({ hasText: 'live' }).waitFor({ timeout: UI_WAIT_MS });
  });

  it('U02 the pixel and the purchase from another tab stream into the debugger, attributed', async () => {
    await adThenPurchase('IMP-E2E', 'ord-e2e-1');
    const touchRow = page.locator('tr[data-id="IMP-E2E"]');
    await touchRow.waitFor({ timeout: UI_WAIT_MS });
    expect(await touchRow.textContent()).toContain('impression');
    const purchase = page.locator('tr[data-id="ord-e2e-1"]').first();
    await purchase.waitFor({ timeout: UI_WAIT_MS });
    // Keyboard: focus the row's Details button and press Enter.
    await purchase.getByRole('button', { name: 'Details' }).focus();
    await page.keyboard.press('Enter');
    const detail = page.locator('.detail').first();
    await detail.getByText('view-through').waitFor({ timeout: UI_WAIT_MS });
    const text = await detail.textContent();
    expect(text).toContain('impression IMP-E2E');
    expect(text).toContain('via cookie');
    expect(text).toContain('campaign c-e2e');
    await shot('debugger');
  });

  it('U03 a failed delivery is retried from the deliveries page', async () => {
    await page.getByRole('link', { name: 'Deliveries' }).click();
    const row = page.locator('tr[data-delivery]').first();
    await waitFor(async () => {
      await page.getByRole('button', { name: 'Show' }).click();
      return (await row.textContent())?.includes('failed');
    }, UI_WAIT_MS);
    await row.getByRole('button', { name: 'Attempts' }).click();
    await page.getByText('bad pixel id').waitFor({ timeout: UI_WAIT_MS });
    await shot('deliveries');
    await row.getByRole('button', { name: 'Retry' }).click();
    await waitFor(async () => {
      await page.getByRole('button', { name: 'Show' }).click();
      return (await page.locator('tr[data-delivery]').first().textContent())?.includes('delivered');
    }, UI_WAIT_MS);
    const got = hook.got.filter((g) => g.body.includes('"ord-e2e-1"'));
    expect(got.length).toBe(2);
  });

  it('U04 the report counts the next conversion; the CSV link is offered', async () => {
    await page.getByRole('link', { name: 'Reports' }).click();
    await page.getByRole('button', { name: 'Show' }).click();
    const total = page.locator('#report-table tfoot td').nth(2);
    await page.locator('#report-table').waitFor({ timeout: UI_WAIT_MS });
    const before = Number(await total.textContent());
    expect(before).toBeGreaterThanOrEqual(1);
    await adThenPurchase('IMP-E2E-2', 'ord-e2e-2');
    await waitFor(async () => {
      await page.getByRole('button', { name: 'Show' }).click();
      return Number(await total.textContent()) === before + 1;
    }, UI_WAIT_MS);
    const ms = await page.locator('#r-timing').getAttribute('data-ms');
    console.log(`dashboard e2e: report page rendered in ${ms} ms`);
    expect(await page.locator('#r-csv').getAttribute('href')).toMatch(/format=csv/);
    await page.locator('#r-group').selectOption('campaign');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('#report-table tbody th', { hasText: 'c-e2e' }).waitFor();
    // An Apple postback shows in its own table, beside the report's and apart from it.
    const pb = await fetch(`${base}/.well-known/skadnetwork/report-attribution/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signedSkan(postbackSigner, { 'source-identifier': '4242' })),
    });
    expect(pb.status).toBe(200);
    await page.getByRole('button', { name: 'Show' }).click();
    await page
      .locator('#skan-table tbody th', { hasText: 'net.example.skadnetwork:4242' })
      .waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('#skan-table tfoot td[data-col="installs"]').textContent()).toBe('1');
    // What the viewability tag measured, beside the report by the same grouping (issue 24).
    const seen = await fetch(
      `${base}/v?env_id=env_t&dest_id=dsp1&imp_id=IMP-E2E-V&campaign_id=c-e2e&served=1&viewable=1&ttv_ms=1000&max_share=1`,
      { method: 'POST', headers: { 'user-agent': UA } },
    );
    expect(seen.status).toBe(204);
    await server.services.pipeline.flush();
    await page.getByRole('button', { name: 'Show' }).click();
    const views = page.locator('#viewability-table tbody tr', { hasText: 'c-e2e' });
    await views.waitFor({ timeout: UI_WAIT_MS });
    expect(await views.locator('td[data-col="viewable"]').textContent()).toBe('1');
    expect(await views.locator('td[data-col="viewable_rate"]').textContent()).toBe('100.0 %');
    await shot('reports');
  });

  it('U05 setup shows copy-ready snippets, signs a click link, pauses and tests a destination', async () => {
    await page.getByRole('link', { name: 'Setup' }).click();
    await page.getByText('Bearer wk_t').first().waitFor({ timeout: UI_WAIT_MS });
    await page.getByLabel('Landing URL').fill('https://anywhere.example/landing');
    await page.getByLabel('Campaign').fill('c9');
    await page.getByRole('button', { name: 'Sign link' }).click();
    await page.locator('#l-out').getByText(/sig=/).waitFor({ timeout: UI_WAIT_MS });
    const destRow = page.locator('tr[data-dest="dsp1"]');
    const errorsBefore = consoleErrors.length;
    await destRow.getByRole('button', { name: 'Send test conversion' }).click();
    // A webhook has no test channel: nothing is sent until the real conversion is confirmed.
    await page
      .locator('[data-test-answer="dsp1"]', { hasText: 'no test channel' })
      .waitFor({ timeout: UI_WAIT_MS });
    expect(hook.got.some((g) => g.body.includes('pixeltrail-test-'))).toBe(false);
    // Chromium logs the API's 409 (confirmation required) as a console error: expected.
    await waitFor(() => consoleErrors.length > errorsBefore, UI_WAIT_MS);
    expect(consoleErrors.splice(errorsBefore)).toEqual([expect.stringContaining('status of 409')]);
    await page.getByRole('button', { name: 'Send a real conversion' }).click();
    await page
      .locator('[data-test-answer="dsp1"]', { hasText: 'HTTP 200' })
      .waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('[data-test-answer="dsp1"]').textContent()).toContain(
      'a real conversion was recorded',
    );
    expect(hook.got.some((g) => g.body.includes('pixeltrail-test-'))).toBe(true);
    await destRow.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('dsp1 paused').waitFor({ timeout: UI_WAIT_MS });
    const paused = await server.services.store.pausedDestinations();
    expect(paused).toEqual([
      { env_id: 'env_t', dest_id: 'dsp1', reason: 'paused from the dashboard' },
    ]);
    await page.reload();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('dsp1 resumed').waitFor({ timeout: UI_WAIT_MS });
    expect(await server.services.store.pausedDestinations()).toEqual([]);
    await shot('setup');
  });

  it('U06 health shows each source and destination with a light and its reason', async () => {
    // An ad server that left its imp_id macro unexpanded: the share shows on dsp1's row.
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=%7Bimp_id%7D`, {
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36' },
    });
    await page.getByRole('link', { name: 'Health' }).click();
    const pixel = page.locator('tr[data-source="pixel"]');
    await pixel.waitFor({ timeout: UI_WAIT_MS });
    expect(await pixel.textContent()).toMatch(/green|amber/);
    const dest = page.locator('tr[data-dest="dsp1"]');
    // One of the two ord-e2e deliveries was refused once, then delivered on retry.
    expect(await dest.textContent()).toContain('100 %');
    expect(await dest.locator('td.macros').textContent()).toMatch(/^\d+(\.\d)? % \(imp_id: 1\)$/);
    // No installs here: the install fraud column says none were flagged.
    expect(await dest.locator('td.install-fraud').textContent()).toBe('—');
    await shot('health');
  });

  it('U07 creates a destination in the form; its pixel and purchase reach its receiver and show in the debugger and deliveries', async () => {
    uiHook = await startReceiver(() => ({ status: 200, body: { received: 'yes' } }));
    await page.getByRole('link', { name: 'Setup' }).click();
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.getByLabel('ID', { exact: true }).fill('dsp-ui');
    await page.locator('#d-type').selectOption('webhook');
    await page.getByLabel('Events (comma-separated)').fill('Purchase, Lead');
    await page.getByLabel('View window').fill('soon');
    await page.getByLabel(/^url/).fill(`${uiHook.url}/ui-hook`);
    await page.getByLabel(/^secret/).fill('ui-secret');
    const errorsBefore = consoleErrors.length;
    // Keyboard: submit from the last field.
    await page.getByLabel(/^secret/).press('Enter');
    await page.locator('#dest-errors', { hasText: 'view_window' }).waitFor({ timeout: UI_WAIT_MS });
    // Chromium logs the refused save's 400 as a console error: that one is expected, no other.
    await waitFor(() => consoleErrors.length > errorsBefore, UI_WAIT_MS);
    const refused = consoleErrors.splice(errorsBefore);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain('status of 400');
    expect(await page.getByLabel('View window').getAttribute('aria-invalid')).toBe('true');
    await shot('setup-destination-errors');
    await page.getByLabel('View window').fill('2d');
    // Sent at once (the default 30 s merge window would hold the purchase below).
    await page.getByLabel('Merge window').fill('0s');
    await page.getByRole('button', { name: 'Create destination' }).click();
    await page.getByText('dsp-ui created.').waitFor({ timeout: UI_WAIT_MS });
    const row = page.locator('tr[data-dest="dsp-ui"]');
    expect(await row.textContent()).toContain('2d view');
    expect(await row.textContent()).toContain('dashboard');
    // The secret never comes back to the browser.
    expect(await page.content()).not.toContain('ui-secret');

    const beforeTest = consoleErrors.length;
    await row.getByRole('button', { name: 'Send test conversion' }).click();
    await page.getByRole('button', { name: 'Send a real conversion' }).click();
    await waitFor(() => consoleErrors.length > beforeTest, UI_WAIT_MS);
    expect(consoleErrors.splice(beforeTest)).toEqual([expect.stringContaining('status of 409')]);
    await page
      .locator('[data-test-answer="dsp-ui"]', { hasText: 'HTTP 200' })
      .waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('[data-test-answer="dsp-ui"]').textContent()).toContain('received');
    await shot('setup-destination-created');

    await adThenPurchase('IMP-UI', 'ord-ui-1', 'dsp-ui');
    const delivered = (await waitFor(
      () => uiHook.got.find((g) => g.body.includes('"ord-ui-1"')),
      UI_WAIT_MS,
    )) as Received;
    const body = JSON.parse(delivered.body);
    expect(body).toMatchObject({ dest_id: 'dsp-ui', attribution: { imp_id: 'IMP-UI' } });
    expect(delivered.headers['x-pixeltrail-signature']).toBe(
      `sha256=${createHmac('sha256', 'ui-secret').update(delivered.body).digest('hex')}`,
    );

    await page.getByRole('link', { name: 'Live debugger' }).click();
    const purchase = page.locator('tr[data-id="ord-ui-1"]').first();
    await purchase.waitFor({ timeout: UI_WAIT_MS });
    await purchase.getByRole('button', { name: 'Details' }).click();
    const detail = page.locator('.detail').first();
    await detail.getByText(/→ dsp-ui: delivered/).waitFor({ timeout: UI_WAIT_MS });
    expect(await detail.textContent()).toContain('impression IMP-UI');
    await shot('debugger-created-destination');

    await page.getByRole('link', { name: 'Deliveries' }).click();
    const uiRow = page.locator('tr[data-delivery]', { hasText: 'dsp-ui' }).first();
    await uiRow.waitFor({ timeout: UI_WAIT_MS });
    expect(await uiRow.textContent()).toContain('delivered');
    await shot('deliveries-created-destination');
  });

  it('U08 edits, pauses and deletes the created destination', async () => {
    await page.getByRole('link', { name: 'Setup' }).click();
    const row = page.locator('tr[data-dest="dsp-ui"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel(/^secret/).inputValue()).toBe('');
    await page.getByLabel('Click window').fill('28d');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('dsp-ui saved.').waitFor({ timeout: UI_WAIT_MS });
    expect(await row.textContent()).toContain('28d click');
    const dest = server.services.environment('env_t')?.destinations.find((d) => d.id === 'dsp-ui');
    // Left empty, the secret kept its value.
    expect(dest?.settings.secret).toBe('ui-secret');
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('dsp-ui paused.').waitFor({ timeout: UI_WAIT_MS });
    page.once('dialog', (d) => void d.accept());
    await page.locator('tr[data-dest="dsp-ui"]').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('dsp-ui deleted.').waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('tr[data-dest="dsp-ui"]').count()).toBe(0);
    expect(server.services.environment('env_t')?.destinations.some((d) => d.id === 'dsp-ui')).toBe(
      false,
    );
  });

  it('U09 an edit of a config-file destination can be reverted from the list', async () => {
    const row = page.locator('tr[data-dest="dsp1"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('View window').fill('3d');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('dsp1 saved.').waitFor({ timeout: UI_WAIT_MS });
    expect(await row.textContent()).toContain('overrides config file');
    await row.getByRole('button', { name: 'Revert to config file' }).click();
    await page.getByText('dsp1 is back').waitFor({ timeout: UI_WAIT_MS });
    expect(await row.textContent()).toContain('1d view');
    expect(await row.textContent()).toContain('config file');
  });

  it("U11 the form sets the IP-match windows; one longer than the destination's is clamped, and the list says so", async () => {
    await page.getByRole('link', { name: 'Setup' }).click();
    const row = page.locator('tr[data-dest="dsp1"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('IP-match window for clicks').fill('30d');
    await page.getByLabel('IP-match window for views').fill('2h');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('dsp1 saved.').waitFor({ timeout: UI_WAIT_MS });
    const text = await row.textContent();
    expect(text).toContain('ip match: 30d click / 2h view');
    expect(text).toContain(
      'probabilistic_click_window 30d is longer than click_window 7d: 7d is used',
    );
    const dest = server.services.environment('env_t')?.destinations.find((d) => d.id === 'dsp1');
    expect(dest?.probabilistic_view_window_ms).toBe(2 * 3_600_000);
    await row.getByRole('button', { name: 'Revert to config file' }).click();
    await page.getByText('dsp1 is back').waitFor({ timeout: UI_WAIT_MS });
  });

  it('U12 the Import page uploads a CSV of store sales and offers the error report', async () => {
    await page.goto(`${base}/ui/#/import`);
    const now = Math.floor(Date.now() / 1000);
    await page.getByLabel('CSV file').setInputFiles({
      name: 'till.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        `order_id,time,value,currency,email\nPOS-U12,${now - 3600},20,EUR,ann@example.com\n,${now},5,EUR,x@y.co\n`,
      ),
    });
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByText('2 rows: 1 imported').waitFor({ timeout: UI_WAIT_MS });
    expect(await page.getByRole('link', { name: 'Download the error report' }).count()).toBe(1);
    expect(await page.getByRole('cell', { name: 'order_id' }).count()).toBe(1);
    await shot('import');
  });

  it('U13 the debugger shows an install whose click came seconds before it as click injection', async () => {
    const gaid = '38400000-8cf0-11bd-b23e-10b96e400e2e';
    const click = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-INJECT&gaid=${gaid}&url=https://shop.example/`,
      { redirect: 'manual', headers: { 'user-agent': 'ShopApp/1 CFNetwork' } },
    );
    expect(click.status).toBe(302);
    await server.services.pipeline.flush();
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
      body: JSON.stringify({
        events: [{ event_name: 'app_install', event_id: 'inst-e2e-1', user: { gaid } }],
      }),
    });
    expect(res.status).toBe(200);
    await page.getByRole('link', { name: 'Live debugger' }).click();
    const row = page.locator('tr[data-id="inst-e2e-1"]').first();
    await row.waitFor({ timeout: UI_WAIT_MS });
    await row.getByRole('button', { name: 'Details' }).click();
    const detail = page.locator('.detail').first();
    await detail.getByText('install fraud: click_injection').waitFor({ timeout: UI_WAIT_MS });
    const barred = detail.locator('li.v-not_eligible').first();
    expect(await barred.textContent()).toMatch(
      /^click CLK-INJECT via device_id was inside the 7d click window, but earns no credit: click injection: the install came \d+ s after click CLK-INJECT/,
    );
    await shot('debugger-install-fraud');
  });

  it('U10 no page logged a console error', () => {
    expect(consoleErrors).toEqual([]);
  });
});
