import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { testDestination } from '../../../test/fixtures/destination.js';
import type { Attribution } from '../../domain/attribution.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import type { TrackedEvent } from '../../domain/event.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DeliveryItem, HttpResult } from './adapter.js';
import {
  fillTemplate,
  interpretPostback,
  postbackDestination as pb,
  postbackValues,
} from './postback.js';

const NOW_S = 1_763_900_000;
const NOW = NOW_S * 1000;
const TEMPLATE =
  'https://dsp.example/pb?imp={imp_id}&clk={click_id}&ev={event_name}&v={value}&cur={currency}' +
  '&cid={conversion_id}&t={event_time}&camp={campaign_id}&cr={creative_id}&pl={placement_id}';

type Settings = { url: string; method?: 'GET' | 'POST'; body?: 'form' | 'json' };

function dest(settings: Settings, over: Partial<DestinationConfig> = {}): DestinationConfig {
  return testDestination({ id: 'dsp1', type: 'postback', base_url: null, settings, ...over });
}

const VIEW: Attribution = {
  type: 'view',
  imp_id: 'IMP 7/ä',
  click_id: null,
  campaign_id: 'c1',
  creative_id: 'cr9',
  placement_id: null,
  touch_time: NOW_S - 3600,
  match_key: 'cookie',
  match_type: 'deterministic',
  window: '1d',
  model: 'last_touch',
};

function item(attribution: Attribution | null = VIEW, value: number | null = 49.9): DeliveryItem {
  const event: TrackedEvent = {
    env_id: 'env_t',
    event_name: 'Purchase',
    event_id: 'ord-1',
    event_time: NOW_S,
    source: 'server',
    // Another partner's ids on the event itself must not leak into this DSP's postback.
    user: { imp_id: 'OTHER-DSP-IMP', click_id: 'OTHER-DSP-CLICK' },
    properties: { value: 49.9, currency: 'EUR' },
    consent: { ads: null, analytics: null },
    warnings: [],
  };
  const conversion: ConversionRecord = {
    conversion_id: 'cv-1',
    dest_id: 'dsp1',
    env_id: 'env_t',
    event_pk: 'pk-1',
    event_name: 'Purchase',
    event_id: 'ord-1',
    event_time: NOW_S,
    value,
    currency: value === null ? null : 'EUR',
    attribution,
    reason: attribution ? null : 'no touch',
    created_at_ms: NOW,
  };
  return { outbox_id: 1, conversion, event };
}

const build = (s: Settings, i = item(), over: Partial<DestinationConfig> = {}) => {
  const d = dest(s, over);
  return pb.buildRequest([i], { dest: d, settings: s, nowMs: NOW });
};
const res = (status: number, body = '', retryAfter: string | null = null): HttpResult => ({
  kind: 'response',
  status,
  retryAfter,
  bodyExcerpt: body,
});

describe('postback request', () => {
  it('P01 GET fills every macro, URL-encoded, empty when absent', () => {
    const req = build({ url: TEMPLATE });
    expect(req.method).toBe('GET');
    expect(req.body).toBeUndefined();
    expect(req.url).toBe(
      'https://dsp.example/pb?imp=IMP%207%2F%C3%A4&clk=&ev=Purchase&v=49.9&cur=EUR' +
        `&cid=cv-1&t=${NOW_S}&camp=c1&cr=cr9&pl=`,
    );
  });

  it('P02 the imp_id is the DSP\u2019s own, from its attribution (partner-namespaced ids)', () => {
    const url = build({ url: 'https://dsp.example/pb?imp={imp_id}&clk={click_id}' }).url;
    expect(url).toBe('https://dsp.example/pb?imp=IMP%207%2F%C3%A4&clk=');
    expect(url).not.toContain('OTHER-DSP');
    const click = { ...VIEW, type: 'click' as const, imp_id: null, click_id: 'CLK-1' };
    expect(build({ url: 'https://d/?c={click_id}' }, item(click)).url).toBe('https://d/?c=CLK-1');
  });

  it('P03 an unattributed conversion without a value leaves those macros empty', () => {
    const url = build({ url: TEMPLATE }, item(null, null)).url;
    expect(url).toBe(
      `https://dsp.example/pb?imp=&clk=&ev=Purchase&v=&cur=&cid=cv-1&t=${NOW_S}&camp=&cr=&pl=`,
    );
  });

  it('P04 {event_name} follows the destination event_map; unknown macros stay as written', () => {
    const url = build(
      { url: 'https://d/?e={event_name}&x={payout}&d={dest_id}&env={env_id}' },
      item(),
      {
        event_map: { Purchase: 'sale' },
      },
    ).url;
    expect(url).toBe('https://d/?e=sale&x={payout}&d=dsp1&env=env_t');
  });

  it('P05 POST form sends the same values form-encoded', () => {
    const req = build({ url: 'https://d/pb?imp={imp_id}', method: 'POST' });
    expect(req.method).toBe('POST');
    expect(req.url).toBe('https://d/pb?imp=IMP%207%2F%C3%A4');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = Object.fromEntries(new URLSearchParams(req.body!));
    expect(form).toMatchObject({
      imp_id: 'IMP 7/ä',
      click_id: '',
      value: '49.9',
      event_id: 'ord-1',
    });
  });

  it('P06 POST json sends the same values as JSON', () => {
    const req = build({ url: 'https://d/pb', method: 'POST', body: 'json' });
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body!)).toEqual(postbackValues(item().conversion, 'Purchase'));
    expect(JSON.parse(req.body!)).toMatchObject({ imp_id: 'IMP 7/ä', click_id: null, value: 49.9 });
  });

  it('P07 one conversion per request, with an idempotency key stable across retries', () => {
    expect(pb.maxBatch).toBe(1);
    expect(build({ url: TEMPLATE }).headers['idempotency-key']).toBe('cv-1:dsp1');
  });

  it('P08 fillTemplate encodes reserved characters', () => {
    const v = postbackValues(item().conversion, 'A&B=C?');
    expect(fillTemplate('https://d/?e={event_name}', v)).toBe('https://d/?e=A%26B%3DC%3F');
  });

  it('P09 settings: url required, method GET|POST, body form|json', () => {
    expect(Value.Check(pb.settingsSchema, { url: TEMPLATE })).toBe(true);
    expect(Value.Check(pb.settingsSchema, { url: TEMPLATE, method: 'POST', body: 'json' })).toBe(
      true,
    );
    expect(Value.Check(pb.settingsSchema, { url: 'ftp://x' })).toBe(false);
    expect(Value.Check(pb.settingsSchema, { url: TEMPLATE, method: 'PUT' })).toBe(false);
  });
});

describe('postback answers', () => {
  const one = [item()];
  it('P10 2xx is done', () => {
    expect(interpretPostback(res(200, 'OK'), one, NOW)).toEqual({
      verdicts: [{ action: 'done' }],
      detail: 'HTTP 200 accepted: OK',
    });
  });
  it('P11 400 is dropped and the partner\u2019s words are kept', () => {
    const r = interpretPostback(res(400, '{"error":"unknown click id"}'), one, NOW);
    expect(r.verdicts[0].action).toBe('drop');
    expect(r.detail).toMatch(/^HTTP 400 .*unknown click id/);
  });
  it('P12 401/403 pause the destination', () => {
    expect(interpretPostback(res(401, 'bad token'), one, NOW).verdicts[0].action).toBe('pause');
    expect(interpretPostback(res(403), one, NOW).verdicts[0].action).toBe('pause');
  });
  it('P13 429 waits for Retry-After; 5xx and network errors are retried', () => {
    const r = interpretPostback(res(429, 'slow down', '30'), one, NOW);
    expect(r.verdicts[0]).toMatchObject({ action: 'retry', retryAfterMs: 30_000 });
    expect(r.detail).toMatch(/retry after 30 s/);
    expect(interpretPostback(res(503), one, NOW).verdicts[0].action).toBe('retry');
    expect(interpretPostback({ kind: 'network', error: 'ECONNREFUSED' }, one, NOW)).toEqual({
      verdicts: [{ action: 'retry', reason: 'network: ECONNREFUSED' }],
      detail: 'network error: ECONNREFUSED',
    });
  });
});
