/**
 * Issue 23 against a real server: landings from search, newsletters and campaign links become
 * visit touches of their channel, from the tag's beacon, Segment's real client and Snowplow's
 * real tracker; delivery credit stays with the ad; the multi-touch report shows the visits by
 * channel, source / medium and campaign with imported costs, CPA and ROAS per model; costs come
 * from the API (JSON, CSV, errors by row) and the CLI; channel rules are edited per environment.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { buildEcommerceTransaction, buildPageView, newTracker } from '@snowplow/node-tracker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { admin, startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedEvent } from '../helpers/stored-event.js';

let hook: Receiver;
let server: Server;
let base: string;
let dir: string;
const DAY = new Date().toISOString().slice(0, 10);
const FROM = `${DAY}T00:00:00Z`;
const TO = new Date(Date.parse(FROM) + 86_400_000).toISOString();

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  dir = tempDir();
  ({ server, base } = await startPixeltrail(
    testConfig(`${hook.url}/hook`, {}, { reporting_currency: 'EUR' }),
    dir,
  ));
});
afterAll(async () => {
  await server?.close();
  await hook?.close();
});

async function beacon(cookie: string, event: Record<string, unknown>) {
  const res = await fetch(`${base}/e`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      origin: 'http://shop.test',
      'user-agent': UA,
      cookie: `ptid=${cookie}`,
    },
    body: JSON.stringify({ env_id: 'env_t', ...event }),
  });
  expect(res.status).toBe(204);
  await server.services.pipeline.flush();
}

const report = async (by: string, model = 'all') =>
  (
    await admin(
      base,
      `/api/reports/attribution?env_id=env_t&model=${model}&by=${by}&from=${FROM}&to=${TO}`,
    )
  ).body;

describe('visits from the tag', () => {
  it('CHI01 impression → organic Google visit → purchase: the ad keeps the delivery credit, the path and the report show the visit', async () => {
    const pixel = await fetch(
      `${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-CH1&campaign_id=c-disp`,
      {
        headers: { 'user-agent': UA },
      },
    );
    const ptid = /ptid=([^;]+)/.exec(pixel.headers.get('set-cookie') ?? '')?.[1] as string;
    await server.services.pipeline.flush();
    // Seconds apart, as a person goes: the ad, then the search, then the purchase.
    const t0 = Math.floor(Date.now() / 1000);
    // The landing: Google's results page as the referrer (the origin only, as browsers send it).
    await beacon(ptid, {
      event_name: 'PageView',
      event_id: 'ch1-pv',
      event_time: t0 + 2,
      user: { anonymous_id: ptid },
      properties: { url: 'https://shop.example/shoes', referrer: 'https://www.google.com/' },
    });
    // A reload of the landing: the same visit, not written again.
    await beacon(ptid, {
      event_name: 'PageView',
      event_id: 'ch1-pv-reload',
      event_time: t0 + 2,
      user: { anonymous_id: ptid },
      properties: { url: 'https://shop.example/shoes', referrer: 'https://www.google.com/' },
    });
    // A later page of the same visit: its referrer is the site, no new visit.
    await beacon(ptid, {
      event_name: 'PageView',
      event_id: 'ch1-pv2',
      event_time: t0 + 3,
      user: { anonymous_id: ptid },
      properties: { url: 'https://shop.example/cart', referrer: 'https://shop.example/shoes' },
    });
    await beacon(ptid, {
      event_name: 'Purchase',
      event_id: 'ch1-order',
      event_time: t0 + 4,
      user: { anonymous_id: ptid },
      properties: {
        value: 80,
        currency: 'EUR',
        url: 'https://shop.example/thanks',
        referrer: 'https://shop.example/cart',
      },
    });
    const sent = await waitFor(() => hook.got.find((r) => r.body.includes('"ch1-order"')));
    expect(JSON.parse(sent?.body ?? '{}').attribution).toMatchObject({ imp_id: 'IMP-CH1' });

    const visits = await (server.services.store as KyselyStore).db
      .selectFrom('touches')
      .select('touch_id')
      .where('kind', '=', 'visit')
      .where('anonymous_id', '=', ptid)
      .execute();
    expect(visits).toHaveLength(1);
    const landing = await storedEvent(server, 'PageView', 'ch1-pv');
    expect(landing.event.traffic_source).toMatchObject({
      source: 'google',
      medium: 'organic',
      by: 'referrer',
    });
    const conv = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions.find(
      (c: { event_id: string }) => c.event_id === 'ch1-order',
    );
    const p = (await admin(base, `/api/conversions/${conv.conversion_id}/path?env_id=env_t`)).body;
    expect(p.touches.map((t: { kind: string }) => t.kind)).toEqual(['impression', 'visit']);
    expect(p.touches[1].traffic_source).toMatchObject({ source: 'google', medium: 'organic' });

    const r = await report('channel');
    const row = (k: string) => r.rows.find((x: { key: string }) => x.key === k);
    expect(row('Display')?.first_touch.conversions).toBe(1);
    expect(row('Organic Search')?.last_touch).toMatchObject({ conversions: 1, revenue: 80 });
    expect(row('Organic Search')?.linear.revenue).toBe(40);
  });
});

describe('campaign fields from Segment and Snowplow clients', () => {
  it('CHI02 @segment/analytics-node: context.campaign of a page call names the visit of the later Order Completed', async () => {
    const analytics = new Analytics({
      writeKey: 'wk_t',
      host: base,
      flushAt: 20,
      flushInterval: 50,
      maxRetries: 0,
    });
    const context = {
      ip: '198.51.100.23',
      userAgent: UA,
      campaign: { name: 'may_newsletter', source: 'newsletter', medium: 'email', content: 'hero' },
      page: { url: 'https://shop.example/sale', referrer: '' },
    };
    analytics.page({ anonymousId: 'seg-ch-1', name: 'Sale', messageId: 'seg-ch-pv', context });
    analytics.track({
      anonymousId: 'seg-ch-1',
      event: 'Order Completed',
      messageId: 'seg-ch-order',
      properties: { order_id: 'o-seg', revenue: 30, currency: 'EUR' },
      context: { ip: context.ip, userAgent: UA, page: { url: 'https://shop.example/thanks' } },
    });
    await analytics.closeAndFlush();
    const pv = await storedEvent(server, 'PageView', 'seg-ch-pv');
    expect(pv.event.traffic_source).toMatchObject({
      source: 'newsletter',
      medium: 'email',
      campaign: 'may_newsletter',
      content: 'hero',
      by: 'utm',
    });
    await storedEvent(server, 'Purchase', 'seg-ch-order');
    const sm = await report('source_medium', 'last_touch');
    expect(sm.rows.find((x: { key: string }) => x.key === 'newsletter / email')).toMatchObject({
      conversions: 1,
      revenue: 30,
    });
    const byCampaign = await report('campaign', 'last_touch');
    expect(byCampaign.rows.find((x: { key: string }) => x.key === 'may_newsletter')).toMatchObject({
      campaign_id: 'may_newsletter',
      revenue: 30,
    });
    expect(
      (await report('channel', 'last_touch')).rows.find((x: { key: string }) => x.key === 'Email')
        ?.revenue,
    ).toBe(30);
  });

  it('CHI07 @segment/analytics-node: a single-page app’s page calls repeat the landing’s referrer, and stay one visit', async () => {
    const analytics = new Analytics({
      writeKey: 'wk_t',
      host: base,
      flushAt: 20,
      flushInterval: 50,
      maxRetries: 0,
    });
    const context = (url: string) => ({
      ip: '198.51.100.31',
      userAgent: UA,
      // analytics.js sends document.referrer, which a single-page app never changes.
      page: { url, referrer: 'https://www.google.com/' },
    });
    // The landing: a Google Ads click (gclid), then three routes whose URLs lost the gclid.
    const urls = [
      'https://shop.example/?gclid=spa-1',
      ...[1, 2, 3].map((n) => `https://shop.example/p/${n}`),
    ];
    for (const [i, url] of urls.entries())
      analytics.page({ anonymousId: 'seg-spa', messageId: `seg-spa-${i}`, context: context(url) });
    await analytics.closeAndFlush();
    for (const i of [0, 1, 2, 3]) await storedEvent(server, 'PageView', `seg-spa-${i}`);
    const visits = await (server.services.store as KyselyStore).db
      .selectFrom('touches')
      .select('traffic_source')
      .where('kind', '=', 'visit')
      .where('anonymous_id', '=', 'seg-spa')
      .execute();
    expect(visits.map((v) => JSON.parse(v.traffic_source ?? '{}').medium)).toEqual(['cpc']);
  });

  it('CHI03 @snowplow/node-tracker: the page view URL and referrer; an enriched relay mkt_* fields', async () => {
    const port = Number(new URL(base).port);
    const tracker = newTracker(
      { namespace: 'shop', appId: 'env_t', encodeBase64: true },
      { endpoint: '127.0.0.1', protocol: 'http', port, bufferSize: 1 },
    );
    tracker.setIpAddress('198.51.100.77');
    tracker.setUseragent(UA);
    tracker.setDomainUserId('sp-ch-duid');
    tracker.track(
      buildPageView({
        pageUrl:
          'https://shop.example/?utm_source=bing&utm_medium=cpc&utm_campaign=brand_terms&msclkid=ab12',
        referrer: 'https://www.bing.com/',
      }),
    );
    tracker.track(
      buildEcommerceTransaction({ orderId: 'sp-ch-order', total: 55, currency: 'EUR' }),
    );
    await tracker.flush();
    await waitFor(async () => {
      const r = await report('channel', 'last_touch');
      return r.rows.find(
        (x: { key: string; revenue: number }) => x.key === 'Paid Search' && x.revenue === 55,
      );
    });
    const r = await report('campaign', 'last_touch');
    expect(r.rows.find((x: { key: string }) => x.key === 'brand_terms')).toMatchObject({
      revenue: 55,
    });

    // A pipeline relaying enriched events sends the campaign attribution enrichment's fields.
    const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [
          {
            e: 'pv',
            aid: 'env_t',
            eid: 'sp-mkt-1',
            duid: 'sp-mkt-duid',
            url: 'https://shop.example/',
            refr_urlhost: 'l.facebook.com',
            refr_urlscheme: 'https',
            mkt_source: 'facebook',
            mkt_medium: 'paid_social',
            mkt_campaign: 'retarget',
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const stored = await storedEvent(server, 'PageView', 'sp-mkt-1');
    expect(stored.event.traffic_source).toMatchObject({
      source: 'facebook',
      medium: 'paid_social',
      campaign: 'retarget',
      referrer_host: 'l.facebook.com',
      source_category: 'social',
    });
  });
});

describe('costs', () => {
  it('CHI04 a CSV import names each bad line and field, keeps the good ones; a re-import replaces the same days; the report shows cost, CPA and ROAS per model', async () => {
    const csv = [
      'date,campaign_id,cost,currency,channel,impressions,clicks',
      `${DAY},c-disp,20,EUR,,5000,40`,
      `${DAY},may_newsletter,5,USD,Email,,`,
      `${DAY},,5,EUR,,,`,
      `${DAY},c-x,abc,EUR,,,`,
      `2026-02-30,c-x,1,EUR,,,`,
    ].join('\n');
    const post = (body: string) =>
      fetch(`${base}/api/costs?env_id=env_t`, {
        method: 'POST',
        headers: { authorization: 'Bearer adm', 'content-type': 'text/csv' },
        body,
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const first = await post(csv);
    expect(first.status).toBe(200);
    expect(first.body.saved).toBe(2);
    expect(
      first.body.errors.map((e: { line: number; field: string }) => [e.line, e.field]),
    ).toEqual([
      [4, 'campaign_id'],
      [5, 'cost'],
      [6, 'date'],
    ]);
    // Nothing good at all: a 400 naming each line.
    const bad = await post('date,campaign_id,cost,currency\nx,c,1,EUR\n');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ line: 2, field: 'date' });
    // Re-import of the same day replaces it.
    expect((await post(`date,campaign_id,cost,currency\n${DAY},c-disp,40,EUR\n`)).body.saved).toBe(
      1,
    );
    const listed = (await admin(base, '/api/costs?env_id=env_t')).body.costs;
    expect(listed.filter((c: { campaign_id: string }) => c.campaign_id === 'c-disp')).toEqual([
      expect.objectContaining({ cost: 40, currency: 'EUR', channel: null }),
    ]);
    // USD is converted with the dated rate saved for the day, never added as it is.
    expect(
      (
        await admin(base, '/api/fx-rates', 'POST', {
          rates: [{ date: DAY, from: 'USD', to: 'EUR', rate: 0.9 }],
        })
      ).status,
    ).toBe(200);
    const r = await report('campaign');
    const disp = r.rows.find((x: { key: string }) => x.key === 'c-disp');
    expect(disp).toMatchObject({
      cost: 40,
      first_touch: { conversions: 1, revenue: 80, cpa: 40, roas: 2 },
    });
    expect(disp.last_touch).toMatchObject({ conversions: 0, cpa: null, roas: 0 });
    const byChannel = await report('channel');
    expect(byChannel.rows.find((x: { key: string }) => x.key === 'Email')).toMatchObject({
      cost: 4.5,
      cost_by_currency: { USD: 5 },
      last_touch: { revenue: 30, roas: 6.6667 },
    });
    expect(byChannel.cost.cost_by_currency).toEqual({ EUR: 40, USD: 5 });
  });

  it('CHI05 pixeltrail import costs FILE.csv saves the good lines and writes the refused ones beside the file', async () => {
    const cliDir = tempDir();
    const config = path.join(cliDir, 'pixeltrail.json');
    writeFileSync(config, JSON.stringify(testConfig('http://127.0.0.1:9/hook')));
    const file = path.join(cliDir, 'costs.csv');
    writeFileSync(file, `date,campaign_id,cost,currency\n${DAY},c1,12.5,EUR\n${DAY},c2,-1,EUR\n`);
    let out = '';
    let code = 0;
    try {
      out = execFileSync('node', ['dist/cli.js', 'import', 'costs', file], {
        env: { ...process.env, PIXELTRAIL_CONFIG: config, PIXELTRAIL_DATA: cliDir },
        stdio: 'pipe',
      }).toString();
    } catch (e) {
      const err = e as { status: number; stdout: Buffer };
      code = err.status;
      out = err.stdout.toString();
    }
    expect(code).toBe(1);
    expect(out).toContain('1 daily costs saved, 1 lines refused');
    expect(readFileSync(`${file}.errors.csv`, 'utf8')).toContain('3,cost,"must be a number');
  });
});

describe('channel settings', () => {
  it('CHI06 an environment’s own rules: bad fields named, saved rules rename the report’s rows, DELETE brings the defaults back', async () => {
    const put = (body: unknown) => admin(base, '/api/environments/env_t/channels', 'PUT', body);
    const bad = await put({ rules: [{ channel: 'X', medium: 7, any: [{ colour: 'red' }] }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'channels.rules[0].medium',
      'channels.rules[0].any[0].colour',
    ]);
    const ok = await put({ rules: [{ channel: 'Newsletter', medium: ['email'] }] });
    expect(ok.status).toBe(200);
    expect((await admin(base, '/api/environments/env_t/channels')).body).toMatchObject({
      source: 'api',
    });
    const r = await report('channel', 'last_touch');
    expect(r.rows.find((x: { key: string }) => x.key === 'Newsletter')?.revenue).toBe(30);
    // Nothing else matches these rules: every other touch is Unassigned.
    expect(r.rows.find((x: { key: string }) => x.key === 'Unassigned')).toBeDefined();
    const classified = await admin(base, '/api/channels/classify', 'POST', {
      env_id: 'env_t',
      url: 'https://shop.example/?utm_source=mc&utm_medium=email',
    });
    expect(classified.body).toMatchObject({
      visit: true,
      channel: 'Newsletter',
      source_medium: 'mc / email',
    });
    expect((await admin(base, '/api/environments/env_t/channels', 'DELETE')).body.deleted).toBe(
      true,
    );
    const back = await admin(base, '/api/channels/classify', 'POST', {
      env_id: 'env_t',
      url: 'https://shop.example/',
      referrer: 'https://www.paypal.com/',
    });
    expect(back.body).toMatchObject({ visit: false, channel: 'Referral' });
  });
});
