/**
 * The report and debugger pages over a realistic volume, timed in Chromium and logged (not
 * asserted: timings depend on the machine). By default the test seeds a smaller demo
 * (PIXELTRAIL_E2E_TOUCHES, PIXELTRAIL_E2E_CONVERSIONS); to measure the full volume,
 * run `PIXELTRAIL_DATA=/tmp/big pixeltrail seed --demo` once and point
 * PIXELTRAIL_E2E_DATA=/tmp/big at it.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config-load.js';
import { UI_DIR } from '../../src/http/admin/dashboard.js';
import { seedDemo, seededRandom } from '../../src/seed/demo-seed.js';
import { createServer, newId, type Server } from '../../src/server.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { HAS_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/pixeltrail.js';

const HAS_UI = existsSync(path.join(UI_DIR, 'index.html'));
const GIVEN_DATA = process.env.PIXELTRAIL_E2E_DATA;
/** A PostgreSQL database seeded the same way (`DATABASE_URL=… pixeltrail seed --demo`). */
const GIVEN_DATABASE = process.env.PIXELTRAIL_E2E_DATABASE_URL;
const TOUCHES = Number(process.env.PIXELTRAIL_E2E_TOUCHES ?? 20_000);
const CONVERSIONS = Number(process.env.PIXELTRAIL_E2E_CONVERSIONS ?? 2_000);
const UI_WAIT_MS = 30_000;

describe.skipIf(!HAS_CHROMIUM || !HAS_UI)('dashboard over a realistic volume', () => {
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const dataDir = GIVEN_DATA ?? tempDir();
    const loaded = loadConfig({
      PIXELTRAIL_DATA: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: GIVEN_DATABASE,
    });
    const config = { ...loaded, port: 0, host: '127.0.0.1' };
    if (!GIVEN_DATA) {
      const store = openSqliteStore(dataDir);
      await store.migrate();
      const r = await seedDemo(store, {
        env: config.environments[0],
        touches: TOUCHES,
        conversions: CONVERSIONS,
        days: 30,
        nowMs: Date.now(),
        random: seededRandom(7),
        newId,
      });
      await store.close();
      console.log(`volume e2e: seeded ${TOUCHES} touches, ${CONVERSIONS} purchases in ${r.ms} ms`);
    }
    server = await createServer(config);
    base = await server.listen();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token').fill(config.admin_token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Live debugger' }).waitFor({ timeout: UI_WAIT_MS });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('V01 the report page renders the last 30 days by day, campaign, creative and destination (timed)', async () => {
    const counts = await server.services.store.counts();
    const timing = page.locator('#r-timing[data-ms]');
    // From the click on the nav link to the drawn table and chart (page code, request, render).
    const clicked = Date.now();
    await page.getByRole('link', { name: 'Reports' }).click();
    await timing.waitFor({ timeout: UI_WAIT_MS });
    const navigation = Date.now() - clicked;
    const byDay = await timing.getAttribute('data-ms');
    const grouped: string[] = [];
    for (const g of ['campaign', 'creative', 'destination']) {
      await page.locator('#r-group').selectOption(g);
      await page.evaluate(() => document.getElementById('r-timing')?.removeAttribute('data-ms'));
      await page.getByRole('button', { name: 'Show' }).click();
      await timing.waitFor({ timeout: UI_WAIT_MS });
      grouped.push(`${await timing.getAttribute('data-ms')} ms (by ${g})`);
    }
    await page.locator('#r-group').selectOption('campaign');
    await page.evaluate(() => document.getElementById('r-timing')?.removeAttribute('data-ms'));
    await page.getByRole('button', { name: 'Show' }).click();
    await timing.waitFor({ timeout: UI_WAIT_MS });
    const load = loadavg()
      .map((n) => n.toFixed(1))
      .join(' ');
    console.log(
      `volume e2e (${GIVEN_DATABASE ? 'PostgreSQL' : 'SQLite'}): ${counts.touches} touches, ${counts.events} events, ${counts.conversions} conversions; ` +
        `report page rendered in ${byDay} ms (by day; ${navigation} ms from the nav click), ${grouped.join(', ')}; load average ${load}`,
    );
    const total = Number(
      (await page.locator('#report-table tfoot td').nth(2).textContent())?.replace(/\D/g, ''),
    );
    expect(total).toBeGreaterThan(0);
    await page.screenshot({
      path: path.resolve('test-results', 'dashboard', 'reports-volume.png'),
    });
    expect(errors).toEqual([]);
  });
});
