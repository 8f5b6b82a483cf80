import { describe, expect, it } from 'vitest';
import type { TrackedEvent, UserKeys } from './event.js';
import { destinationMatchQuality, platformMatchQuality } from './match-quality.js';

const ev = (event_name: string, user: UserKeys): TrackedEvent => ({
  env_id: 'env_t',
  event_name,
  event_id: `${event_name}-${Math.random()}`,
  event_time: 1,
  source: 'server',
  user,
  properties: {},
  consent: { ads: true, analytics: null },
  warnings: [],
});

const FULL_META: UserKeys = {
  email_sha256: 'e',
  phone_sha256: 'p',
  fbc: 'fb.1.1.x',
  fbp: 'fb.1.1.1',
  user_id: 'u',
  ip: '203.0.113.9',
  user_agent: 'UA',
  first_name_sha256: 'f',
  last_name_sha256: 'l',
  zip_sha256: 'z',
  country_sha256: 'c',
  gender_sha256: 'g',
};

describe('match quality per destination (issue 20 §3)', () => {
  it('MQ01 every key Meta receives, fbp/fbc and the address included, makes 10', () => {
    expect(platformMatchQuality('meta', [ev('Purchase', FULL_META)]).score).toBe(10);
    expect(platformMatchQuality('meta', [ev('Purchase', FULL_META)]).advice).toEqual([]);
  });

  it('MQ02 the same events score per platform by what that platform takes', () => {
    const events = [ev('Purchase', { email_sha256: 'e', fbc: 'fb.1.1.x', fbp: 'fb.1.1.1' })];
    // Google Ads receives the email but neither fbc nor fbp.
    expect(platformMatchQuality('google_ads', events).score).toBe(3);
    expect(platformMatchQuality('meta', events).score).toBe(5);
  });

  it('MQ05 LinkedIn counts the names it now receives as userInfo', () => {
    const named = { email_sha256: 'e', first_name_sha256: 'f', last_name_sha256: 'l' };
    expect(platformMatchQuality('linkedin', [ev('Lead', named)]).score).toBe(5.5);
    const q = platformMatchQuality('linkedin', [ev('Lead', { email_sha256: 'e' })]);
    expect(q.score).toBe(4.5);
    expect(q.advice.map((a) => a.key)).toEqual(['li_fat_id', 'name']);
  });

  it('MQ03 advice is ranked by the score it would add', () => {
    const events = [
      ev('Purchase', { email_sha256: 'e', ip: '1.2.3.4', user_agent: 'UA' }),
      ev('Purchase', { ip: '1.2.3.4', user_agent: 'UA' }),
    ];
    const q = platformMatchQuality('google_ads', events);
    expect(q.advice.map((a) => a.key)).toEqual(['gclid', 'email', 'phone']);
    expect(q.advice.map((a) => a.gain)).toEqual([6, 1.5, 1]);
    const gains = platformMatchQuality('meta', events).advice.map((a) => a.gain);
    expect(gains).toEqual([...gains].sort((a, b) => b - a));
  });

  it('MQ04 per event name: a well-keyed Purchase is not hidden by anonymous PageViews', () => {
    const sample = [
      ev('Purchase', FULL_META),
      ev('PageView', { ip: '1.2.3.4', user_agent: 'UA' }),
      ev('PageView', { ip: '1.2.3.4', user_agent: 'UA' }),
      ev('Lead', { email_sha256: 'e' }),
    ];
    const q = destinationMatchQuality('meta', ['Purchase', 'PageView'], sample);
    expect(q.sample).toBe(3);
    expect(q.by_event.Purchase.score).toBe(10);
    expect(q.by_event.PageView.score).toBe(1);
    expect(q.by_event.Lead).toBeUndefined();
  });
});
