/**
 * The lift of a holdout on the dashboard's Reports page, in Chromium (issue 23 §3): the
 * sentence, both groups and every figure with its interval, the same numbers as the API's.
 * Needs `npm run build` (dist/ui).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_DIR } from '../../src/http/admin/dashboard.js';
import type { Server } from '../../src/server.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { admin, postEvents, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

const SHOTS = path.resolve('test-results', 'dashboard');
const UI_WAIT_MS = 15_000;
const HAS_UI = existsSync(path.join(UI_DIR, 'index.html'));

describe.skipIf(!HAS_CHROMIUM || !HAS_UI)('lift on the dashboard, in Chromium', () => {
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  const errors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('UL01 the Reports page shows the holdout’s lift: sentence, groups, figures', async () => {
    const made = await admin(base, '/api/holdouts', 'POST', {
      env_id: 'env_t',
      name: 'Spring prospecting',
      campaign_id: 'c-spring',
      fraction: 0.5,
    });
    const events: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const user_id = `ul-${i}`;
      const a = await admin(base, `/api/holdouts/${made.body.id}/assignment?user_id=${user_id}`);
      if (i % (a.body.group === 'exposed' ? 3 : 5) === 0)
        events.push({
          event_name: 'Purchase',
          event_id: `ul-ord-${i}`,
          user: { user_id },
          properties: { value: 20, currency: 'EUR' },
        });
    }
    expect((await postEvents(base, events)).body.errors).toEqual([]);
    const api = (await admin(base, `/api/reports/lift?holdout_id=${made.body.id}`)).body;

    const page = await browser.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token').fill('adm');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Reports' }).click();
    const summary = page.locator('#lift-summary');
    await summary.waitFor({ timeout: UI_WAIT_MS });
    expect(await summary.textContent()).toBe(api.summary);
    expect(await page.locator('#lift-holdout option').first().textContent()).toContain(
      'Spring prospecting (campaign, 50.0 % held out)',
    );
    const groups = page.locator('#lift-groups tbody tr');
    expect(await groups.nth(0).locator('td').nth(0).textContent()).toBe(
      String(api.groups.exposed.people),
    );
    expect(await groups.nth(1).locator('td').nth(1).textContent()).toBe(
      String(api.groups.holdout.converters),
    );
    const figures = await page.locator('#lift-figures tbody th').allTextContents();
    expect(figures).toEqual(['Conversion rate', 'Conversions', 'Revenue (EUR)']);
    const rate = await page
      .locator('#lift-figures tbody tr')
      .first()
      .locator('td')
      .allTextContents();
    expect(rate[4]).toBe(`${(api.conversion_rate.relative * 100).toFixed(1)} %`);
    expect(rate[5]).toMatch(/^-?\d+\.\d % to -?\d+\.\d %$/);
    await page.screenshot({ path: path.join(SHOTS, 'lift-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow, 'fits a 390 px screen').toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
  });
});
