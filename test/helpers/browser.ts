/**
 * Chromium for e2e tests: Debian's /usr/bin/chromium driven by playwright-core, with a fresh
 * profile that allows third-party cookies (DESIGN.md §3) unless asked for the default one, and
 * a desktop Chrome user agent (isbot classes HeadlessChrome as a bot).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Whether the e2e suites can run; they skip with a message when Chromium is absent. */
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);

if (!HAS_CHROMIUM) {
  console.warn(`e2e tests skipped: ${CHROMIUM_PATH} is missing (apt-get install chromium)`);
}

/** The user agent every page and beacon in the e2e tests sends. */
export const DESKTOP_CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/131.0.0.0 Safari/537.36';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The same agent as the pages' override: requests the browser sends once a page is gone
  // (sendBeacon on pagehide) carry the browser's own, which says HeadlessChrome.
  `--user-agent=${DESKTOP_CHROME_UA}`,
];

/** A browser profile allowing third-party cookies, as a fresh profile would block them. */
const PREFERENCES = { profile: { cookie_controls_mode: 0, block_third_party_cookies: false } };

/** A running browser with its own throwaway profile; `close` also deletes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Chromium on a fresh profile directory: one that allows third-party cookies, or with
 * `thirdPartyCookies: false` the default profile as it comes, which blocks them (as most
 * people's browsers do).
 */
export async function launchBrowser(
  opts: { thirdPartyCookies?: boolean } = {},
): Promise<TestBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'pixeltrail-chromium-'));
  if (opts.thirdPartyCookies !== false) {
    await mkdir(join(userDataDir, 'Default'));
    await writeFile(join(userDataDir, 'Default', 'Preferences'), JSON.stringify(PREFERENCES));
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    userAgent: DESKTOP_CHROME_UA,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
