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

describe('only a landing makes a visit (issue 23, review finding 6)', () => {
  // A single-page app's route change: document.referrer is still Google, the URL another.
  const routeChange: TrackedEvent = {
    ...landing,
    event_name: 'ViewContent',
    event_id: 'vc-1',
    properties: { url: 'https://shop.example/shoes', referrer: 'https://www.google.com/' },
    traffic_source: {
      source: 'google',
      medium: 'organic',
      by: 'referrer',
      referrer_host: 'www.google.com',
    },
  };

  it('VT04 an event the tag marks as no landing makes no visit, whatever its referrer or URL says', () => {
    expect(visitTouchOf({ ...routeChange, landing: false })).toBeNull();
    expect(visitTouchOf({ ...routeChange, event_name: 'PageView', landing: false })).toBeNull();
    // The SPA kept the landing's UTM query on its routes: still not a landing again.
    expect(visitTouchOf({ ...landing, landing: false })).toBeNull();
  });

  it('VT05 the marked landing is a visit, whatever its event', () => {
    expect(visitTouchOf({ ...routeChange, landing: true })).toMatchObject({
      kind: 'visit',
      traffic_source: { source: 'google', medium: 'organic' },
    });
  });

  it('VT06 unmarked (server, Segment, Snowplow, /p): a page view is a landing, another event only with a campaign', () => {
    // Another event whose only source is its referrer: a later event of the page, not a landing.
    expect(visitTouchOf(routeChange)).toBeNull();
    // The page view is the landing: its referrer names the visit.
    expect(visitTouchOf({ ...routeChange, event_name: 'PageView' })?.kind).toBe('visit');
    // UTM fields or an ad click id on any event's landing URL: a campaign landing.
    expect(visitTouchOf({ ...landing, event_name: 'Lead' })?.kind).toBe('visit');
    const clicked = {
      ...routeChange,
      traffic_source: { source: 'google', medium: 'cpc', by: 'click_id' as const },
    };
    expect(visitTouchOf(clicked)?.kind).toBe('visit');
  });
});
