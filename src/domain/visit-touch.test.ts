import { describe, expect, it } from 'vitest';
import type { TrackedEvent } from './event.js';
import { visitTouchOf } from './visit-touch.js';

const landing: TrackedEvent = {
  env_id: 'env',
  event_name: 'PageView',
  event_id: 'pv-1',
  event_time: 1_763_900_000,
  source: 'tag',
  user: { anonymous_id: 'anon-1', ip: '203.0.113.9', user_agent: 'UA' },
  properties: { url: 'https://shop.example/?utm_source=newsletter&utm_medium=email' },
  consent: { ads: true, analytics: true },
  warnings: [],
  traffic_source: { source: 'newsletter', medium: 'email', campaign: 'may', by: 'utm' },
};

describe('visit touches (issue 23)', () => {
  it('VT01 a landing with a source is a visit of the person, named by its campaign', () => {
    expect(visitTouchOf(landing)).toMatchObject({
      kind: 'visit',
      dest_id: null,
      campaign_id: 'may',
      anonymous_id: 'anon-1',
      ip: '203.0.113.9',
      time: landing.event_time,
      traffic_source: { source: 'newsletter' },
    });
  });

  it('VT02 the same person and source give the same visit id; another source another', () => {
    const a = visitTouchOf(landing)?.touch_id;
    expect(visitTouchOf({ ...landing, event_id: 'atc-1', event_name: 'AddToCart' })?.touch_id).toBe(
      a,
    );
    const other = { ...landing, traffic_source: { ...landing.traffic_source, campaign: 'june' } };
    expect(visitTouchOf(other as TrackedEvent)?.touch_id).not.toBe(a);
  });

  it('VT03 no visit: no source, our own click link, a test, a bot, ads or analytics refused, nobody', () => {
    const without = (over: Partial<TrackedEvent>) => visitTouchOf({ ...landing, ...over });
    expect(without({ traffic_source: undefined })).toBeNull();
    expect(
      without({ traffic_source: { ...landing.traffic_source, via_click_link: true } as never }),
    ).toBeNull();
    expect(without({ test_code: 'TEST1' })).toBeNull();
    expect(without({ traffic: 'bot' })).toBeNull();
    expect(without({ consent: { ads: false, analytics: true } })).toBeNull();
    expect(without({ consent: { ads: true, analytics: false } })).toBeNull();
    expect(without({ user: {} })).toBeNull();
  });
});
