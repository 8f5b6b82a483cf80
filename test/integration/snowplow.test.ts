import {
  buildEcommerceTransaction,
  buildPageView,
  buildStructEvent,
  newTracker,
} from '@snowplow/node-tracker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { dedupKey, storedEvent, storedIp } from '../helpers/stored-event.js';

let hook: Receiver;
let server: Server;
let base: string;

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  ({ server, base } = await startPixeltrail(testConfig(`${hook.url}/hook`), tempDir()));
});
afterAll(async () => {
  await server.close();
  await hook.close();
});

const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';

async function tp2(data: unknown[], headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=UTF-8', 'user-agent': UA, ...headers },
    body: JSON.stringify({ schema: PAYLOAD_DATA, data }),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A browser's CORS preflight from the allowed origin http://shop.test. */
function preflight(path: string, method: string, requestHeaders: string) {
  return fetch(`${base}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://shop.test',
      'access-control-request-method': method,
      'access-control-request-headers': requestHeaders,
    },
  });
}

describe('Snowplow tracker protocol', () => {
  it('SN01 @snowplow/node-tracker: page view and an ecommerce transaction after an impression are stored, attributed and delivered', async () => {
    const ua = `${UA} SnowShop/1`;
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SP1`, {
      headers: { 'user-agent': ua },
    });
    const port = Number(new URL(base).port);
    const tracker = newTracker(
      { namespace: 'shop', appId: 'env_t', encodeBase64: true },
      { endpoint: '127.0.0.1', protocol: 'http', port, bufferSize: 1 },
    );
    tracker.setIpAddress('127.0.0.1');
    tracker.setUseragent(ua);
    tracker.setUserId('sp-user-1');
    tracker.track(
      buildPageView({ pageUrl: 'https://shop.example/cart', pageTitle: 'Cart' }),
      undefined,
      undefined,
    );
    tracker.track(
      buildEcommerceTransaction({ orderId: 'sp-order-1', total: 42.5, currency: 'EUR' }),
      undefined,
      undefined,
    );
    tracker.track(buildStructEvent({ category: 'form', action: 'Lead', value: 1 }));
    await tracker.flush();
    const purchase = await waitFor(() =>
      hook.got.find(
        (r) => JSON.parse(r.body).event_name === 'Purchase' && JSON.parse(r.body).value === 42.5,
      ),
    );
    expect(JSON.parse(purchase?.body ?? '{}')).toMatchObject({
      currency: 'EUR',
      attribution: { imp_id: 'IMP-SP1', match_key: 'ip+ua' },
    });
    const stored = await storedEvent(
      server,
      'Purchase',
      JSON.parse(purchase?.body ?? '{}').event_id,
    );
    expect(stored.event.user).toMatchObject({
      user_id: 'sp-user-1',
      ip: storedIp(server, '127.0.0.1'),
      user_agent: ua,
    });
    expect(stored.event.properties).toMatchObject({ order_id: 'sp-order-1' });
  });

  it('SN02 the GET pixel on /i with e= is a Snowplow event (a GIF), not an impression', async () => {
    const q = new URLSearchParams({
      e: 'pv',
      aid: 'env_t',
      p: 'web',
      eid: 'sp-get-1',
      duid: 'duid-get-1',
      url: 'https://shop.example/',
      dtm: String(Date.now()),
      tv: 'js-4.0.0',
    });
    const res = await fetch(`${base}/i?${q}`, { headers: { 'user-agent': UA } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('x-pixeltrail-warnings')).toBeNull();
    const pv = await storedEvent(server, 'PageView', 'sp-get-1');
    expect(pv.event.user).toMatchObject({
      anonymous_id: 'duid-get-1',
      ip: storedIp(server, '127.0.0.1'),
      user_agent: UA,
    });
    expect(res.headers.get('set-cookie')).toMatch(/^ptid=duid-get-1;/);
  });

  it('SN02b HEAD on the GET pixel answers the GIF and stores no event', async () => {
    const q = (eid: string) =>
      new URLSearchParams({ e: 'pv', aid: 'env_t', p: 'web', eid, tv: 'js-4.0.0' });
    const head = await fetch(`${base}/i?${q('sp-head-1')}`, {
      method: 'HEAD',
      headers: { 'user-agent': UA },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('image/gif');
    expect(head.headers.get('x-pixeltrail-warnings')).toBe('head');
    // A GET sent after it is stored; by then the HEAD's event would have been too.
    await fetch(`${base}/i?${q('sp-head-2')}`, { headers: { 'user-agent': UA } });
    await storedEvent(server, 'PageView', 'sp-head-2');
    const found = await dedupKey(server.services.store, 'env_t', 'PageView', 'sp-head-1');
    expect(found).toBeFalsy();
  });

  it('SN03 a POST keeps good items, names bad ones, and dedups by eid', async () => {
    const good = {
      e: 'se',
      aid: 'env_t',
      eid: 'sp-post-1',
      se_ca: 'c',
      se_ac: 'Signup',
      duid: 'd1',
      dtm: String(Date.now()),
    };
    const r = await tp2([
      good,
      { e: 'pv', aid: 'nope', eid: 'x' },
      { e: 'zz', aid: 'env_t' },
      good,
    ]);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(r.body.errors).toEqual([
      { index: 1, field: 'aid', message: 'no environment has the id nope' },
      { index: 2, field: 'e', message: 'must be one of pv, pp, se, ue, tr, ti' },
    ]);
  });

  it('SN03c errors name the tracker-protocol field the value came from: ip, tr_tt, tr_cu, dtm', async () => {
    const r = await tp2([
      {
        e: 'tr',
        p: 'srv',
        aid: 'env_t',
        eid: 'sp-3c-1',
        tr_id: 'o-3c',
        tr_tt: '-5',
        tr_cu: 'dollars',
        ip: 'not-an-ip',
        dtm: 'soon',
      },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(0);
    expect(r.body.errors).toEqual([
      { index: 0, field: 'dtm', message: 'must be Unix seconds or an ISO 8601 time' },
      { index: 0, field: 'ip', message: 'is not a valid IP address' },
      { index: 0, field: 'tr_tt', message: 'must not be negative' },
      { index: 0, field: 'tr_cu', message: 'must be an ISO 4217 currency code' },
    ]);
  });

  it('SN03b a web item from a bot is stored flagged, not dropped unanswered; an app tracker whose HTTP client looks like a bot is a person', async () => {
    const item = (eid: string, p: string) => ({
      e: 'se',
      se_ca: 'c',
      se_ac: 'a',
      aid: 'env_t',
      eid,
      p,
    });
    const bot = await tp2([item('sn3b-web', 'web')], { 'user-agent': 'Googlebot/2.1' });
    expect(bot.body).toMatchObject({ accepted: 1, errors: [] });
    expect(bot.headers.get('set-cookie')).toBeNull();
    const app = await tp2([item('sn3b-mob', 'mob'), item('sn3b-pc', 'pc')], {
      'user-agent': 'okhttp/4.12.0',
    });
    expect(app.body).toMatchObject({ accepted: 2, errors: [] });
    const stored = await storedEvent(server, 'a', 'sn3b-web');
    expect(stored.event.traffic).toBe('bot');
    const mob = await storedEvent(server, 'a', 'sn3b-mob');
    expect(mob.event.traffic).toBeUndefined();
  });

  it('SN04 an envelope that is not payload_data is a 400 naming the fields', async () => {
    const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [] }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).errors.map((e: { field: string }) => e.field)).toEqual([
      'schema',
      'data',
    ]);
  });

  it('SN05b server-side anonymisation (SP-Anonymous): neither the IP nor the ptid cookie is kept, none is set; the GET preflight lets the header through', async () => {
    const browser = { origin: 'http://shop.test', cookie: 'ptid=ptid-sp-anon-1' };
    const item = (eid: string) => ({
      e: 'pv',
      aid: 'env_t',
      p: 'web',
      eid,
      duid: `duid-${eid}`,
      url: 'https://shop.example/anon',
      tv: 'js-4.10.1',
    });
    // The same browser without the header: its address and cookie are kept, a cookie is set.
    const named = await tp2([item('sp-anon-0')], browser);
    expect(named.status).toBe(200);
    const kept = await storedEvent(server, 'PageView', 'sp-anon-0');
    expect(kept.event.user).toMatchObject({
      ip: storedIp(server, '127.0.0.1'),
      cookie_id: 'ptid-sp-anon-1',
    });
    // A browser without the cookie would get one (SN02): not under anonymisation.
    const post = await tp2([item('sp-anon-1')], {
      origin: browser.origin,
      'sp-anonymous': '*',
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('set-cookie')).toBeNull();
    const byPost = await storedEvent(server, 'PageView', 'sp-anon-1');
    expect(byPost.event.user.ip).toBeUndefined();
    expect(byPost.event.user).toMatchObject({ anonymous_id: 'duid-sp-anon-1', user_agent: UA });

    const q = new URLSearchParams(item('sp-anon-2'));
    const pre = await preflight(`/i?${q}`, 'GET', 'sp-anonymous');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toContain('sp-anonymous');
    const get = await fetch(`${base}/i?${q}`, {
      headers: { ...browser, 'user-agent': UA, 'sp-anonymous': '*' },
    });
    expect(get.status).toBe(200);
    const byGet = await storedEvent(server, 'PageView', 'sp-anon-2');
    expect(byGet.event.user.ip).toBeUndefined();
    expect(byGet.event.user.cookie_id).toBeUndefined();
    // And from a browser without the cookie, the GET sets none either.
    const fresh = await fetch(`${base}/i?${new URLSearchParams(item('sp-anon-3'))}`, {
      headers: { origin: browser.origin, 'user-agent': UA, 'sp-anonymous': '*' },
    });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('set-cookie')).toBeNull();
    expect((await storedEvent(server, 'PageView', 'sp-anon-3')).event.user.ip).toBeUndefined();
  });

  it('SN05 the preflight of a browser tracker reflects an allowed origin with credentials', async () => {
    const res = await preflight('/com.snowplowanalytics.snowplow/tp2', 'POST', 'content-type');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, x-retry-count, sp-anonymous',
    );
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });
  it('SN06 consent events decide their own consent: Enhanced Consent allow_all, allow_selected, deny_all; consent_withdrawn; the gdpr entity is no choice', async () => {
    const sd = (name: string, data: unknown) => ({
      schema: `iglu:com.snowplowanalytics.snowplow/${name}/jsonschema/1-0-0`,
      data,
    });
    const ue = (eid: string, event: unknown, extra: Record<string, string> = {}) => ({
      e: 'ue',
      aid: 'env_t',
      p: 'web',
      eid,
      duid: `duid-${eid}`,
      dtm: String(Date.now()),
      ue_pr: JSON.stringify(sd('unstruct_event', event)),
      ...extra,
    });
    const prefs = (eventType: string, consentScopes: string[]) =>
      sd('consent_preferences', {
        eventType,
        consentScopes,
        basisForProcessing: 'consent',
        consentUrl: 'https://shop.example/privacy',
        consentVersion: '1.0',
        domainsApplied: ['shop.example'],
        gdprApplies: true,
      });
    const gdpr = JSON.stringify(sd('contexts', [sd('gdpr', { basisForProcessing: 'consent' })]));
    const r = await tp2([
      ue('sp-consent-all', prefs('allow_all', ['necessary', 'analytics', 'advertisement'])),
      ue('sp-consent-some', prefs('allow_selected', ['necessary', 'analytics'])),
      ue('sp-consent-deny', prefs('deny_all', ['necessary'])),
      ue('sp-consent-withdrawn', sd('consent_withdrawn', { all: true })),
      {
        e: 'pv',
        aid: 'env_t',
        p: 'web',
        eid: 'sp-consent-gdpr',
        duid: 'duid-gdpr',
        dtm: String(Date.now()),
        co: gdpr,
      },
    ]);
    expect(r.body).toMatchObject({ accepted: 5, errors: [] });
    const consent = async (name: string, id: string) =>
      (await storedEvent(server, name, id)).event.consent;
    expect(await consent('consent_preferences', 'sp-consent-all')).toMatchObject({
      ads: true,
      analytics: true,
    });
    expect(await consent('consent_preferences', 'sp-consent-some')).toMatchObject({
      ads: false,
      analytics: true,
    });
    expect(await consent('consent_preferences', 'sp-consent-deny')).toMatchObject({
      ads: false,
      analytics: false,
    });
    expect(await consent('consent_withdrawn', 'sp-consent-withdrawn')).toMatchObject({
      ads: false,
      analytics: false,
    });
    expect(await consent('PageView', 'sp-consent-gdpr')).toMatchObject({
      ads: null,
      analytics: null,
    });
    // The batch's cookie comes from an item that may have one: the allow_all one.
    expect(r.headers.get('set-cookie')).toMatch(/^ptid=duid-sp-consent-all;/);
  });
});
