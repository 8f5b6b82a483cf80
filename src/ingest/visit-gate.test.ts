import { describe, expect, it } from 'vitest';
import type { Touch } from '../domain/event.js';
import type { TrafficSource } from '../domain/traffic-source.js';
import { VisitGate } from './visit-gate.js';

const visit = (touch_id: string, time: number, env_id = 'e'): Touch => ({
  env_id,
  kind: 'visit',
  touch_id,
  dest_id: null,
  campaign_id: null,
  creative_id: null,
  placement_id: null,
  time,
  anonymous_id: 'a',
  user_id: null,
  ip: null,
  user_agent: null,
});

describe('visit gate', () => {
  it('VG01 repeats of a visit within 30 min are held back, the 30-min pause starts a new one', () => {
    const g = new VisitGate();
    expect(g.admit(visit('v1', 1000))).toBe(true);
    expect(g.admit(visit('v1', 1000))).toBe(false);
    expect(g.admit(visit('v1', 1000 + 1700))).toBe(false);
    // 1,700 s after the last copy seen, not after the first: the visit went on.
    expect(g.admit(visit('v1', 1000 + 3400))).toBe(false);
    expect(g.admit(visit('v1', 1000 + 3400 + 1800))).toBe(true);
    expect(g.admit(visit('v2', 1000))).toBe(true);
    expect(g.admit(visit('v1', 1000, 'other-env'))).toBe(true);
  });

  it('VG02 bounded: past its size the oldest is forgotten and written again, never lost', () => {
    const g = new VisitGate(2);
    expect(g.admit(visit('a', 1))).toBe(true);
    expect(g.admit(visit('b', 1))).toBe(true);
    expect(g.admit(visit('c', 1))).toBe(true);
    expect(g.admit(visit('b', 2))).toBe(false);
    expect(g.admit(visit('a', 2))).toBe(true);
  });

  it('VG03 an unmarked page view named by its referrer alone continues the visit from that referrer', () => {
    const g = new VisitGate();
    const from = (touch_id: string, time: number, ts: TrafficSource): Touch => ({
      ...visit(touch_id, time),
      traffic_source: ts,
    });
    const google = { referrer_host: 'www.google.com' };
    const ad = { source: 'google', medium: 'cpc', by: 'click_id' as const, ...google };
    const organic = { source: 'google', medium: 'organic', by: 'referrer' as const, ...google };
    // A Google Ads landing; then a single-page app's page calls: the referrer, no gclid.
    expect(g.admit(from('v-ad', 1000, ad), true)).toBe(true);
    expect(g.admit(from('v-org', 1060, organic), true)).toBe(false);
    expect(g.admit(from('v-org', 1060 + 1700, organic), true)).toBe(false);
    // Half an hour without a page: a new visit, as a GA4 session ends.
    expect(g.admit(from('v-org', 1060 + 1700 + 1800, organic), true)).toBe(true);
    // The tag marks its landings: a new page load from Google is a visit of its own.
    const h = new VisitGate();
    expect(h.admit(from('v-ad', 1000, ad), false)).toBe(true);
    expect(h.admit(from('v-org', 1060, organic), false)).toBe(true);
    // Another person, or another referrer, is not continued.
    expect(h.admit({ ...from('v-x', 1060, organic), anonymous_id: 'b' }, true)).toBe(true);
    const bing = { source: 'bing', medium: 'organic', by: 'referrer' as const };
    expect(h.admit(from('v-b', 1060, { ...bing, referrer_host: 'www.bing.com' }), true)).toBe(true);
  });
});

describe('visit gate, people known by their IP alone (issue 23 review)', () => {
  const office = (touch_id: string, time: number, ua: string, ts?: TrafficSource): Touch => ({
    ...visit(touch_id, time),
    anonymous_id: null,
    ip: '198.51.100.7',
    user_agent: ua,
    ...(ts ? { traffic_source: ts } : {}),
  });
  const google = { referrer_host: 'www.google.com' };
  const ad = { source: 'google', medium: 'cpc', by: 'click_id' as const, ...google };
  const organic = { source: 'google', medium: 'organic', by: 'referrer' as const, ...google };

  it('VG04 one person landing from a referrer does not swallow a colleague’s visit from it on the same IP', () => {
    const g = new VisitGate();
    expect(g.admit(office('v-ad', 1000, 'Firefox', ad), true)).toBe(true);
    // Five minutes later a colleague behind the office NAT finds the shop through Google.
    expect(g.admit(office('v-org', 1300, 'Chrome', organic), true)).toBe(true);
  });

  it('VG05 by IP, exact repeats collapse per browser: the same user agent is held back, another written', () => {
    const g = new VisitGate();
    expect(g.admit(office('v-ip', 1000, 'Firefox'))).toBe(true);
    expect(g.admit(office('v-ip', 1060, 'Firefox'))).toBe(false);
    expect(g.admit(office('v-ip', 1060, 'Chrome'))).toBe(true);
  });
});
