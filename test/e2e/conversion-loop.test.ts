/**
 * The whole loop of DESIGN.md §1 in Chromium against a real `pixeltrail serve`: an ad page on
 * one origin renders the impression pixel, the shop on another origin loads the tag from the
 * server and buys, and a webhook receiver gets the attributed, signed conversion exactly once.
 * Needs a build (`npm run build`) for dist/cli.js.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DESKTOP_CHROME_UA,
  HAS_CHROMIUM,
  launchBrowser,
  type TestBrowser,
} from '../helpers/browser.js';
import { freePort } from '../helpers/child-server.js';
import {
  type LocalServer,
  type RecordedRequest,
  shopPage,
  startLocalServer,
  startPageServer,
  waitFor,
} from './local-servers.js';

const SERVER_START_MS = 30_000;
const BEACON_WAIT_MS = 10_000;
const DELIVERY_WAIT_MS = 15_000;
/** After the first delivery, how long a second one would have had to show up. */

interface WebhookBody {
  conversion_id: string;
  env_id: string;
  dest_id: string;
  event_name: string;
  event_id: string;
  value: number;
  currency: string;
  attribution: { type: string; imp_id: string | null; click_id: string | null } & Record<
    string,
    unknown
  >;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!HAS_CHROMIUM)('conversion loop against a real server', () => {
  const adPages = new Map<string, string>();
  const shopPages = new Map<string, string>();
  let hook: LocalServer;
  let ads: LocalServer;
  let shop: LocalServer;
  let server: ChildProcess;
  let serverOutput = '';
  let serverUrl: string;
  let shopOrigin: string;
  let tmp: string;
  let browser: TestBrowser;
  let page: Page;

  function deliveries(eventId: string): { request: RecordedRequest; body: WebhookBody }[] {
    return hook.requests
      .filter((r) => r.method === 'POST' && r.path === '/hook')
      .map((request) => ({ request, body: JSON.parse(request.body) as WebhookBody }))
      .filter((d) => d.body.event_id === eventId);
  }

  /** The outbox rows not yet finished (unsent, in flight or due for a retry), all events. */
  async function outboxPending(): Promise<number> {
    const r = await fetch(`${serverUrl}/api/stats`, { headers: { authorization: 'Bearer adm' } });
    return ((await r.json()) as { outbox_pending: number }).outbox_pending;
  }

  /**
   * Waits for the first delivery of `eventId`, then proves no second one follows without
   * sleeping: every copy was answered after its commit, so once no outbox row is pending (a
   * row is recorded delivered only after the receiver answered it) the count is final.
   */
  async function deliveredOnce(eventId: string) {
    const [first] = await waitFor(
      () => deliveries(eventId).length > 0 && deliveries(eventId),
      DELIVERY_WAIT_MS,
      `the webhook delivery of ${eventId}\n--- server output ---\n${serverOutput}`,
    );
    await waitFor(
      async () => (await outboxPending()) === 0,
      DELIVERY_WAIT_MS,
      'no outbox row pending',
    );
    expect(deliveries(eventId)).toHaveLength(1);
    return first;
  }

  /** Shows an ad whose impression pixel carries `impId`, on the ad origin (localhost). */
  async function viewAd(impId: string): Promise<void> {
    const pixel = `${serverUrl}/i?env_id=env_e2e&dest_id=dsp1&imp_id=${impId}&campaign_id=c1`;
    adPages.set(`/ad/${impId}`, `<!doctype html><title>ad</title><img src="${pixel}" alt="">`);
    await page.goto(`http://localhost:${ads.port}/ad/${impId}`);
    const imageWidth = await page.evaluate(() => document.images[0].naturalWidth);
    expect(imageWidth, 'the impression pixel answers a 1x1 image').toBe(1);
  }

  /**
   * Buys on the shop origin (127.0.0.1) with the tag served by pixeltrail. The tag sends its
   * PageView and Purchase in one beacon; Chromium reports no body for beacons, so the test
   * waits for the collector's answer to it.
   */
  async function buyInShop(eventId: string): Promise<void> {
    shopPages.set(
      `/thanks/${eventId}`,
      shopPage(
        `${serverUrl}/t.js`,
        `pixeltrail('init','env_e2e');
         pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'${eventId}'});`,
      ),
    );
    const beacon = page.waitForResponse((r) => r.url() === `${serverUrl}/e`, {
      timeout: BEACON_WAIT_MS,
    });
    await page.goto(`${shopOrigin}/thanks/${eventId}`);
    expect((await beacon).status()).toBe(204);
  }

  function postServerEvent(eventId: string) {
    return fetch(`${serverUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: 'Bearer wk_e2e', 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          {
            event_name: 'Purchase',
            event_id: eventId,
            env_id: 'env_e2e',
            user: { ip: '127.0.0.1', user_agent: DESKTOP_CHROME_UA },
            properties: { value: 49.9, currency: 'EUR' },
          },
        ],
      }),
    });
  }

  beforeAll(async () => {
    if (!existsSync('dist/cli.js')) throw new Error('dist/cli.js is missing: run npm run build');
    execFileSync(process.execPath, ['scripts/build-tag.mjs'], { stdio: 'pipe' });
    hook = await startLocalServer((r) => (r.path === '/hook' ? { status: 200 } : undefined));
    ads = await startPageServer(adPages);
    shop = await startPageServer(shopPages);
    shopOrigin = `http://127.0.0.1:${shop.port}`;

    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    tmp = await mkdtemp(join(tmpdir(), 'pixeltrail-e2e-'));
    const config = {
      admin_token: 'adm',
      environments: [
        {
          id: 'env_e2e',
          name: 'E2E',
          write_key: 'wk_e2e',
          allowed_origins: [shopOrigin],
          click_url_hosts: ['127.0.0.1'],
          destinations: [
            {
              id: 'dsp1',
              type: 'webhook',
              url: `http://127.0.0.1:${hook.port}/hook`,
              secret: 's3cret',
              events: ['Purchase'],
              click_window: '7d',
              view_window: '1d',
              // Short enough for the test's wait, long enough that L02's two copies merge.
              merge_window: '1s',
            },
          ],
        },
      ],
    };
    await writeFile(join(tmp, 'config.json'), JSON.stringify(config));
    server = spawn(process.execPath, ['dist/cli.js', 'serve'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        PIXELTRAIL_CONFIG: join(tmp, 'config.json'),
        PIXELTRAIL_DATA: join(tmp, 'data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk) => (serverOutput += chunk));
    server.stderr!.on('data', (chunk) => (serverOutput += chunk));
    await waitFor(
      async () => {
        if (server.exitCode !== null) throw new Error(`server exited:\n${serverOutput}`);
        return fetch(`${serverUrl}/healthz`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      SERVER_START_MS,
      'GET /healthz 200',
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- server output ---\n${serverOutput}`);
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => server.kill('SIGKILL'))]);
    }
    await Promise.all([hook, ads, shop].map((s) => s?.close()));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await browser.context.newPage();
    return () => page.close();
  });

  it('L01 delivers a tag purchase after an ad view once, signed and view-attributed', async () => {
    await viewAd('IMP-E2E-1');
    await buyInShop('ord-e2e-1');

    const { request, body } = await deliveredOnce('ord-e2e-1');
    const signature = createHmac('sha256', 's3cret').update(request.body).digest('hex');
    expect(request.headers['x-pixeltrail-signature']).toBe(`sha256=${signature}`);
    expect(request.headers['idempotency-key']).toBe(`${body.conversion_id}:dsp1`);
    expect(body).toMatchObject({
      env_id: 'env_e2e',
      dest_id: 'dsp1',
      event_name: 'Purchase',
      event_id: 'ord-e2e-1',
      value: 49.9,
      currency: 'EUR',
      attribution: { type: 'view', imp_id: 'IMP-E2E-1', click_id: null, campaign_id: 'c1' },
    });

    const unauthorized = await fetch(`${serverUrl}/api/conversions?env_id=env_e2e`);
    expect(unauthorized.status).toBe(401);
    const listed = await fetch(`${serverUrl}/api/conversions?env_id=env_e2e`, {
      headers: { authorization: 'Bearer adm' },
    });
    expect(listed.status).toBe(200);
    expect(listed.headers.get('content-type')).toMatch(/application\/json/);
    const text = await listed.text();
    expect(text).toContain(body.conversion_id);
    expect(text).toContain('ord-e2e-1');
  });

  it('L02 delivers a purchase sent by both the backend and the tag once', async () => {
    await viewAd('IMP-E2E-2');
    const first = await postServerEvent('ord-e2e-2');
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ accepted: 1, duplicates: 0, errors: [] });

    await buyInShop('ord-e2e-2');
    const again = await postServerEvent('ord-e2e-2');
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });

    const { request, body } = await deliveredOnce('ord-e2e-2');
    expect(request.headers['idempotency-key']).toBe(`${body.conversion_id}:dsp1`);
    expect(body).toMatchObject({
      event_id: 'ord-e2e-2',
      value: 49.9,
      currency: 'EUR',
      attribution: { type: 'view', imp_id: 'IMP-E2E-2' },
    });
  });

  it('L03 credits a click through /c that the tag carries from landing to purchase', async () => {
    shopPages.set('/landing', shopPage(`${serverUrl}/t.js`, `pixeltrail('init','env_e2e');`));
    const landing = `${shopOrigin}/landing?click_id=CLK-E2E-1`;
    const click =
      `${serverUrl}/c?env_id=env_e2e&dest_id=dsp1&click_id=CLK-E2E-1&campaign_id=c1` +
      `&url=${encodeURIComponent(landing)}`;
    adPages.set('/ad/click', `<!doctype html><title>ad</title><a href="${click}">Buy now</a>`);
    await page.goto(`http://localhost:${ads.port}/ad/click`);
    await Promise.all([page.waitForURL(`${landing}&pt_click_id=CLK-E2E-1`), page.click('a')]);
    await buyInShop('ord-e2e-3');

    const { body } = await deliveredOnce('ord-e2e-3');
    expect(body.attribution).toMatchObject({
      type: 'click',
      click_id: 'CLK-E2E-1',
      imp_id: null,
      campaign_id: 'c1',
      window: '7d',
    });
  });

  it('L04 answers the fetch fallback with credentialed CORS to an allowed origin', async () => {
    shopPages.set('/blank', '<!doctype html><title>blank</title>');
    await page.goto(`${shopOrigin}/blank`);
    const status = await page.evaluate(async (url) => {
      const body = JSON.stringify({
        events: [{ event_name: 'Lead', event_id: 'lead-cors-1', env_id: 'env_e2e' }],
      });
      const response = await fetch(url, {
        method: 'POST',
        body,
        keepalive: true,
        credentials: 'include',
        headers: { 'content-type': 'text/plain' },
      });
      return response.status;
    }, `${serverUrl}/e`);
    expect(status).toBe(204);
  });
});
