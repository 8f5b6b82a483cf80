import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

let hook: Receiver;
let server: Server;
let base: string;
/**
 * The server's clock, stepped a minute after each touch is committed: an install the same
 * second as its click would be click injection (the 10 s click_injection_window).
 */
let now = Date.now();

/** Commits the touches queued so far, then lets a minute pass. */
async function flushed() {
  await server.services.pipeline.flush();
  now += 60_000;
}

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  const raw = testConfig(`${hook.url}/hook`, { events: ['Purchase', 'app_install'] }) as any;
  // Clicks come from the addresses their X-Forwarded-For names (IP matching tests).
  raw.trust_proxy = true;
  raw.environments[0].click_url_hosts.push('play.google.com');
  // An environment whose operator allowed IP matching of iOS app events, knowingly.
  const env = raw.environments[0];
  raw.environments.push({
    ...env,
    id: 'env_ipok',
    write_key: 'wk_ipok',
    ios_probabilistic_matching: true,
    destinations: [{ ...env.destinations[0], id: 'dsp_ok' }],
  });
  raw.apps = [
    { app_id: '1234567890', platform: 'ios', env_id: 'env_t', bundle_id: 'com.example.shop' },
    { app_id: '1234567891', platform: 'ios', env_id: 'env_t', ios_probabilistic_matching: true },
    { app_id: 'com.example.shop', platform: 'android', env_id: 'env_t' },
  ];
  ({ server, base } = await startPixeltrail(raw, tempDir(), { nowMs: () => now }));
});
afterAll(async () => {
  await server.close();
  await hook.close();
});

const GAID = '38400000-8CF0-11BD-B23E-10B96E40000D';
const IDFA = 'EA7583CD-A667-48BC-B806-42ECB2B48606';

/** The app's backend or SDK reports an event; the device's IP is not the ad's. */
function appEvent(name: string, id: string, user: Record<string, string>, extra = {}) {
  return { event_name: name, event_id: id, user: { ip: '198.51.100.20', ...user }, ...extra };
}

function delivered(eventId: string) {
  return waitFor(() => hook.got.find((r) => JSON.parse(r.body).event_id === eventId));
}

/** An in-app ad click from `ip`, kept as a touch. */
async function clickFrom(ip: string, clickId: string, env = 'env_t', dest = 'dsp1', extra = '') {
  const res = await fetch(
    `${base}/c?env_id=${env}&dest_id=${dest}&click_id=${clickId}${extra}&url=https://shop.example/`,
    { headers: { 'user-agent': UA, 'x-forwarded-for': ip }, redirect: 'manual' },
  );
  expect(res.status).toBe(302);
  await flushed();
}

/** The stored conversion of an event (committed before the API answered). */
async function conversionOf(eventId: string, env = 'env_t') {
  const { body } = await admin(base, `/api/conversions?env_id=${env}`);
  return body.conversions.find((c: { event_id: string }) => c.event_id === eventId);
}

/** The debugger's explanation of an event's first conversion. */
async function explanationOf(eventId: string) {
  const { body } = await admin(base, '/api/events?env_id=env_t&limit=500');
  const pk = body.events.find((e: any) => e.event.event_id === eventId)?.pk;
  const trail = await admin(base, `/api/events/${pk}`);
  return trail.body.conversions[0].explanation;
}

describe('mobile app events (MMP-style)', () => {
  it('MA01 an app_install with the GAID an in-app ad click carried is credited to that click', async () => {
    const click = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-APP1&campaign_id=app-c1&gaid=${GAID}` +
        `&url=${encodeURIComponent('https://shop.example/store')}`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    expect(click.status).toBe(302);
    await flushed();
    const r = await postEvents(base, [
      appEvent('app_install', 'inst-1', { gaid: GAID.toLowerCase(), app_instance_id: 'fi-1' }),
    ]);
    expect(r.body).toMatchObject({ accepted: 1, errors: [] });
    const hit = JSON.parse((await delivered('inst-1'))?.body ?? '{}');
    expect(hit.attribution).toMatchObject({
      type: 'click',
      click_id: 'CLK-APP1',
      campaign_id: 'app-c1',
      match_key: 'device_id',
    });
  });

  it('MA02 an in-app purchase with the IDFA an impression carried is credited to the view', async () => {
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-APP2&idfa=${IDFA}`, {
      headers: { 'user-agent': UA },
    });
    await flushed();
    await postEvents(base, [
      appEvent(
        'Purchase',
        'iap-2',
        { idfa: IDFA },
        { properties: { value: 4.99, currency: 'USD' } },
      ),
    ]);
    const hit = JSON.parse((await delivered('iap-2'))?.body ?? '{}');
    expect(hit).toMatchObject({
      value: 4.99,
      attribution: { type: 'view', imp_id: 'IMP-APP2', match_key: 'device_id' },
    });
  });

  it('MA03 the all-zero IDFA of an opted-out device matches nothing', async () => {
    const zero = '00000000-0000-0000-0000-000000000000';
    await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-ZERO&idfa=${zero}&url=https://shop.example/`,
      {
        headers: { 'user-agent': UA },
        redirect: 'manual',
      },
    );
    await flushed();
    await postEvents(base, [appEvent('app_install', 'inst-zero', { idfa: zero })]);
    const list = await waitFor(async () => {
      const res = await fetch(`${base}/api/conversions?env_id=env_t`, {
        headers: { authorization: 'Bearer adm' },
      });
      const body = await res.json();
      return body.conversions.find((c: { event_id: string }) => c.event_id === 'inst-zero');
    });
    expect(list.attribution).toBeNull();
  });

  it('MA04 a Snowplow mobile tracker install (mobile_context IDFA) is credited to the in-app click', async () => {
    const idfa = 'AB7583CD-0000-48BC-B806-42ECB2B48606';
    await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-SP-APP&idfa=${idfa}&url=https://shop.example/`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    await flushed();
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const item = {
      e: 'ue',
      p: 'mob',
      aid: 'env_t',
      eid: 'sp-install-1',
      dtm: String(now),
      ue_px: b64({
        schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
        data: {
          schema: 'iglu:com.snowplowanalytics.mobile/application_install/jsonschema/1-0-0',
          data: {},
        },
      }),
      cx: b64({
        schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
        data: [
          {
            schema: 'iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3',
            data: {
              osType: 'ios',
              osVersion: '17.1',
              deviceManufacturer: 'Apple',
              deviceModel: 'iPhone15,2',
              appleIdfa: idfa,
            },
          },
        ],
      }),
    };
    const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ShopApp/3.1 CFNetwork/1474 Darwin/23.0.0',
      },
      body: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [item],
      }),
    });
    expect(await res.json()).toMatchObject({ accepted: 1, errors: [] });
    const hit = JSON.parse((await delivered('sp-install-1'))?.body ?? '{}');
    expect(hit).toMatchObject({
      event_name: 'app_install',
      attribution: { type: 'click', click_id: 'CLK-SP-APP', match_key: 'device_id' },
    });
  });

  it('MA05 a Segment mobile Application Installed (Android advertisingId) is credited to the in-app impression', async () => {
    const gaid = 'cdda802e-fb9c-47ad-9866-0794d394c912';
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-SEG-APP&gaid=${gaid}`, {
      headers: { 'user-agent': UA },
    });
    await flushed();
    const res = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('wk_t:').toString('base64')}`,
      },
      body: JSON.stringify({
        event: 'Application Installed',
        anonymousId: 'seg-device-1',
        messageId: 'seg-install-1',
        context: {
          ip: '198.51.100.30',
          os: { name: 'Android' },
          device: { advertisingId: gaid, adTrackingEnabled: true, id: 'android-instance-1' },
        },
      }),
    });
    expect(res.status).toBe(200);
    const hit = JSON.parse((await delivered('seg-install-1'))?.body ?? '{}');
    expect(hit).toMatchObject({
      event_name: 'app_install',
      attribution: { type: 'view', imp_id: 'IMP-SEG-APP', match_key: 'device_id' },
    });
  });

  it('MA06 an iOS app install matched only by IP gets no credit by default, and says why', async () => {
    await clickFrom('203.0.113.61', 'CLK-IOS-IP');
    const r = await postEvents(base, [
      { event_name: 'app_install', event_id: 'ios-ip-1', user: { os: 'iOS', ip: '203.0.113.61' } },
    ]);
    expect(r.body).toMatchObject({ accepted: 1, errors: [] });
    const c = await conversionOf('ios-ip-1');
    expect(c.attribution).toBeNull();
    expect(c.reason).toMatch(
      /^click CLK-IOS-IP via ip earns no credit: iOS app event \(user.os is ios\): IP matching is off/,
    );
    const x = await explanationOf('ios-ip-1');
    const ip = x.by_key.find((k: any) => k.match_key === 'ip').touches[0];
    expect(ip).toMatchObject({ touch_id: 'CLK-IOS-IP', verdict: 'not_eligible' });
    expect(ip.message).toContain('IP matching is off');
    // Nor does the click join the install's path, so no multi-touch model credits it.
    const path = await admin(base, `/api/conversions/${c.conversion_id}/path?env_id=env_t`);
    expect(path.body.touches).toEqual([]);
    // What the app could send instead: no cookie, no IP (it would not count on iOS).
    expect(x.missing_keys).toEqual([
      'user_id',
      'email',
      'phone',
      'idfa (with ATT authorization)',
      'click_id',
    ]);
  });

  it('MA07 with ios_probabilistic_matching: true the same iOS install is credited by IP', async () => {
    await clickFrom('203.0.113.62', 'CLK-IOS-IPOK', 'env_ipok', 'dsp_ok');
    const r = await postEvents(
      base,
      [
        {
          event_name: 'app_install',
          event_id: 'ios-ip-2',
          user: { os: 'ios', ip: '203.0.113.62' },
        },
      ],
      'wk_ipok',
    );
    expect(r.body).toMatchObject({ accepted: 1, errors: [] });
    const c = await conversionOf('ios-ip-2', 'env_ipok');
    expect(c.attribution).toMatchObject({ click_id: 'CLK-IOS-IPOK', match_key: 'ip' });
    const path = await admin(base, `/api/conversions/${c.conversion_id}/path?env_id=env_ipok`);
    expect(path.body.touches).toEqual([
      expect.objectContaining({ touch_id: 'CLK-IOS-IPOK', match_key: 'ip' }),
    ]);
  });

  it('MA08 an iOS install is credited to its IDFA click, not to a later click from its IP', async () => {
    const idfa = 'c0ffee00-a667-48bc-b806-42ecb2b48606';
    await clickFrom('198.51.100.63', 'CLK-IOS-IDFA', 'env_t', 'dsp1', `&idfa=${idfa}`);
    await clickFrom('203.0.113.63', 'CLK-IOS-LATER-IP');
    await postEvents(base, [
      {
        event_name: 'app_install',
        event_id: 'ios-idfa-1',
        user: { idfa, att_status: 'authorized', ip: '203.0.113.63' },
      },
    ]);
    const c = await conversionOf('ios-idfa-1');
    expect(c.attribution).toMatchObject({ click_id: 'CLK-IOS-IDFA', match_key: 'device_id' });
  });

  it('MA09 Segment: an iOS SDK install (context.os.name) matched by IP alone is not credited; Android is', async () => {
    await clickFrom('203.0.113.64', 'CLK-SEG-IOS');
    await clickFrom('203.0.113.65', 'CLK-SEG-ANDROID');
    const segment = (id: string, os: string, ip: string, device: Record<string, unknown>) =>
      fetch(`${base}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from('wk_t:').toString('base64')}`,
        },
        body: JSON.stringify({
          event: 'Application Installed',
          anonymousId: `seg-${id}`,
          messageId: id,
          context: { ip, os: { name: os, version: '17.4' }, device },
        }),
      });
    // Tracking denied: Segment's IDFA plugin sends the IDFV as advertisingId, disabled.
    const denied = { adTrackingEnabled: false, advertisingId: 'idfv-1', trackingStatus: 'denied' };
    expect((await segment('seg-ios-1', 'iOS', '203.0.113.64', denied)).status).toBe(200);
    expect((await segment('seg-and-1', 'Android', '203.0.113.65', {})).status).toBe(200);
    const ios = await conversionOf('seg-ios-1');
    expect(ios.attribution).toBeNull();
    expect(ios.reason).toContain('iOS app event (user.os is ios): IP matching is off');
    const android = await conversionOf('seg-and-1');
    expect(android.attribution).toMatchObject({ click_id: 'CLK-SEG-ANDROID', match_key: 'ip' });
  });

  it('MA10 Snowplow: a mobile_context osType ios install matched by IP alone is not credited', async () => {
    await clickFrom('203.0.113.66', 'CLK-SP-IOS');
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ShopApp/3.1 CFNetwork/1474 Darwin/23.0.0',
        'x-forwarded-for': '203.0.113.66',
      },
      body: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [
          {
            e: 'ue',
            p: 'mob',
            aid: 'env_t',
            eid: 'sp-ios-ip-1',
            dtm: String(now),
            ue_px: b64({
              schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
              data: {
                schema: 'iglu:com.snowplowanalytics.mobile/application_install/jsonschema/1-0-0',
                data: {},
              },
            }),
            cx: b64({
              schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
              data: [
                {
                  schema: 'iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3',
                  data: {
                    osType: 'ios',
                    osVersion: '17.1',
                    deviceManufacturer: 'Apple',
                    deviceModel: 'iPhone15,2',
                  },
                },
              ],
            }),
          },
        ],
      }),
    });
    expect(await res.json()).toMatchObject({ accepted: 1, errors: [] });
    const c = await conversionOf('sp-ios-ip-1');
    expect(c.attribution).toBeNull();
    expect(c.reason).toContain('IP matching is off');
  });

  it('MA11 an install naming an app the config lists as iOS is iOS; an app may allow IP matching', async () => {
    await clickFrom('203.0.113.67', 'CLK-APP-IOS');
    await clickFrom('203.0.113.68', 'CLK-APP-IPOK');
    await clickFrom('203.0.113.69', 'CLK-APP-ANDROID');
    const install = (id: string, app_id: string, ip: string) => ({
      event_name: 'app_install',
      event_id: id,
      app_id,
      user: { ip },
    });
    const r = await postEvents(base, [
      install('app-ios-1', 'com.example.shop', '203.0.113.67'),
      install('app-ipok-1', '1234567891', '203.0.113.68'),
      install('app-and-1', 'com.example.other', '203.0.113.69'),
    ]);
    expect(r.body).toMatchObject({ accepted: 3, errors: [] });
    const ios = await conversionOf('app-ios-1');
    expect(ios.attribution).toBeNull();
    expect(ios.reason).toContain('app com.example.shop is an iOS app (config apps)');
    expect((await conversionOf('app-ipok-1')).attribution).toMatchObject({
      click_id: 'CLK-APP-IPOK',
      match_key: 'ip',
    });
    expect((await conversionOf('app-and-1')).attribution).toMatchObject({ match_key: 'ip' });
  });

  it('MA12 a Play Store click link carries the click id in its referrer; the install naming it is credited to that click', async () => {
    const gaid = 'aa400000-8cf0-11bd-b23e-10b96e40000d';
    const store =
      'https://play.google.com/store/apps/details?id=com.example.shop&referrer=utm_source%3Ddsp1';
    const res = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-PLAY&gaid=${gaid}&url=${encodeURIComponent(store)}`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') as string);
    expect(location.searchParams.get('id')).toBe('com.example.shop');
    // Play hands the installed app this string (the Install Referrer API's install_referrer).
    const referrer = location.searchParams.get('referrer') as string;
    expect(referrer).toBe('utm_source=dsp1&pt_click_id=CLK-PLAY');
    // The same device clicks another ad later (say, injected): the referrer's click still wins.
    await clickFrom('198.51.100.70', 'CLK-PLAY-LATER', 'env_t', 'dsp1', `&gaid=${gaid}`);
    await flushed();
    const r = await postEvents(base, [
      {
        event_name: 'app_install',
        event_id: 'play-1',
        user: { gaid, os: 'android' },
        properties: { install_referrer: referrer },
      },
    ]);
    expect(r.body).toMatchObject({ accepted: 1, errors: [] });
    const c = await conversionOf('play-1');
    expect(c.attribution).toMatchObject({
      click_id: 'CLK-PLAY',
      match_key: 'install_referrer',
      match_type: 'deterministic',
    });
    // An Android app can still send a user id, an email, a phone, a click id.
    expect((await explanationOf('play-1')).missing_keys).toEqual([
      'user_id',
      'email',
      'phone',
      'click_id',
    ]);
  });

  it('MA13 Segment: an Application Installed with the Play referrer in context.referrer is credited to its click', async () => {
    await clickFrom('198.51.100.71', 'CLK-PLAY-SEG');
    const res = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('wk_t:').toString('base64')}`,
      },
      body: JSON.stringify({
        event: 'Application Installed',
        anonymousId: 'seg-play-device',
        messageId: 'seg-play-1',
        context: {
          os: { name: 'Android' },
          referrer: { type: 'google-play', link: 'utm_source%3Dnet%26pt_click_id%3DCLK-PLAY-SEG' },
        },
      }),
    });
    expect(res.status).toBe(200);
    const c = await conversionOf('seg-play-1');
    expect(c.attribution).toMatchObject({
      click_id: 'CLK-PLAY-SEG',
      match_key: 'install_referrer',
    });
  });

  it('MA14 an iOS install whose IDFA was withheld (ATT denied, all zeros) is an iOS app event all the same', async () => {
    const zero = '00000000-0000-0000-0000-000000000000';
    const cases: Array<[string, Record<string, string>]> = [
      ['att-denied', { idfa: 'd1a583cd-a667-48bc-b806-42ecb2b48606', att_status: 'denied' }],
      ['att-restricted', { att_status: 'restricted' }],
      ['att-undetermined', { att_status: 'notDetermined' }],
      ['idfa-zero', { idfa: zero }],
      ['idfa-zero-denied', { idfa: zero, att_status: 'denied' }],
      [
        'att-authorized',
        { idfa: 'a1a583cd-a667-48bc-b806-42ecb2b48606', att_status: 'authorized' },
      ],
    ];
    for (const [i, [id]] of cases.entries()) await clickFrom(`203.0.113.${80 + i}`, `CLK-${id}`);
    const r = await postEvents(
      base,
      cases.map(([id, user], i) => ({
        event_name: 'app_install',
        event_id: id,
        user: { ip: `203.0.113.${80 + i}`, ...user },
      })),
    );
    expect(r.body).toMatchObject({ accepted: cases.length, errors: [] });
    for (const [id] of cases) {
      const c = await conversionOf(id);
      expect({ id, attribution: c.attribution }).toEqual({ id, attribution: null });
      expect(c.reason).toMatch(
        new RegExp(`^click CLK-${id} via ip earns no credit: iOS app event`),
      );
      const x = await explanationOf(id);
      const ip = x.by_key.find((k: any) => k.match_key === 'ip').touches[0];
      expect(ip).toMatchObject({ touch_id: `CLK-${id}`, verdict: 'not_eligible' });
    }
    expect((await conversionOf('att-denied')).reason).toContain(
      'iOS app event (it carries an IDFA, not kept: App Tracking Transparency status denied)',
    );
    expect((await conversionOf('idfa-zero')).reason).toContain(
      'iOS app event (it carries an IDFA, all zeros)',
    );
    expect((await conversionOf('att-undetermined')).reason).toContain(
      'iOS app event (it carries an App Tracking Transparency status, not_determined)',
    );
  });
});
