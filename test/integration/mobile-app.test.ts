import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
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

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  ({ server, base } = await startPixeltrail(
    testConfig(`${hook.url}/hook`, { events: ['Purchase', 'app_install'] }),
    tempDir(),
  ));
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

describe('mobile app events (MMP-style)', () => {
  it('MA01 an app_install with the GAID an in-app ad click carried is credited to that click', async () => {
    const click = await fetch(
      `${base}/c?env_id=env_t&dest_id=dsp1&click_id=CLK-APP1&campaign_id=app-c1&gaid=${GAID}` +
        `&url=${encodeURIComponent('https://shop.example/store')}`,
      { headers: { 'user-agent': UA }, redirect: 'manual' },
    );
    expect(click.status).toBe(302);
    await server.services.pipeline.flush();
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
    await server.services.pipeline.flush();
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
    await server.services.pipeline.flush();
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
    await server.services.pipeline.flush();
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const item = {
      e: 'ue',
      p: 'mob',
      aid: 'env_t',
      eid: 'sp-install-1',
      dtm: String(Date.now()),
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
    await server.services.pipeline.flush();
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
});
