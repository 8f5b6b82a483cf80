import { describe, expect, it } from 'vitest';
import { attribute, attributionRules, type ConversionIdentity } from './attribution.js';
import { explainAttribution } from './attribution-explain.js';
import type { Touch } from './event.js';
import {
  appKindOf,
  deterministicOnly,
  iosAppEvidence,
  iosProbabilisticOff,
  normalizeAttStatus,
  normalizeOs,
} from './mobile-platform.js';
import { validateEvent } from './validation.js';

const IDFA = 'ea7583cd-a667-48bc-b806-42ecb2b48606';
const H = 3600;

function touch(over: Partial<Touch>): Touch {
  return {
    env_id: 'e',
    kind: 'click',
    touch_id: 'clk',
    dest_id: 'd',
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time: 10_000,
    anonymous_id: null,
    user_id: null,
    ip: '198.51.100.7',
    user_agent: null,
    ...over,
  };
}

const rules = attributionRules({
  id: 'd',
  click_window_ms: 7 * 86_400_000,
  view_window_ms: 86_400_000,
});
const iosOnly = deterministicOnly(iosProbabilisticOff('user.os is ios'));
const iosRules = {
  ...rules,
  exclude: (_t: Touch, key: Parameters<typeof iosOnly>[0]) => iosOnly(key),
};

describe('mobile platforms (issue 25)', () => {
  it('MP01 user.os is lower-cased; iPhone OS is ios; junk is no OS', () => {
    expect(normalizeOs(' iOS ')).toBe('ios');
    expect(normalizeOs('iPhone OS')).toBe('ios');
    expect(normalizeOs('Mac  OS X')).toBe('mac os x');
    expect(normalizeOs('')).toBeNull();
    expect(normalizeOs('<script>')).toBeNull();
    expect(normalizeOs('x'.repeat(33))).toBeNull();
  });

  it("MP02 ATT status reads Apple's case names in any spelling and the raw values 0-3", () => {
    expect(normalizeAttStatus('authorized')).toBe('authorized');
    expect(normalizeAttStatus('notDetermined')).toBe('not_determined');
    expect(normalizeAttStatus('NOT_DETERMINED')).toBe('not_determined');
    expect(normalizeAttStatus(3)).toBe('authorized');
    expect(normalizeAttStatus('2')).toBe('denied');
    expect(normalizeAttStatus(7)).toBeNull();
    expect(normalizeAttStatus('maybe')).toBeNull();
  });

  it('MP03 an app event is from iOS when it says so, carries an IDFA or IDFV, or names an iOS app', () => {
    const server = { source: 'server' as const };
    expect(iosAppEvidence({ ...server, user: { os: 'ios' } })).toBe('user.os is ios');
    expect(iosAppEvidence({ ...server, user: { os: 'ipados' } })).toBe('user.os is ipados');
    expect(iosAppEvidence({ ...server, user: { idfa: IDFA } })).toBe('it carries an IDFA');
    expect(iosAppEvidence({ ...server, user: { idfv: 'v1' } })).toBe('it carries an IDFV');
    expect(iosAppEvidence({ ...server, user: {}, app_id: '123' }, () => 'ios')).toBe(
      'app 123 is an iOS app (config apps)',
    );
    expect(iosAppEvidence({ ...server, user: {}, app_id: '123' }, () => 'android')).toBeNull();
    expect(iosAppEvidence({ ...server, user: { os: 'android' } })).toBeNull();
    // Safari on an iPhone is the web, not an app: Apple's app rules do not cover it.
    expect(iosAppEvidence({ source: 'pixel', user: { os: 'ios' } })).toBeNull();
    // Snowplow's mobile trackers post like a browser does.
    expect(iosAppEvidence({ source: 'tag', user: { os: 'ios' } })).toBe('user.os is ios');
    expect(iosAppEvidence({ ...server, action_source: 'website', user: { os: 'ios' } })).toBeNull();
  });

  it('MP04 an iOS app install found only by IP earns nothing; the reason names the rule', () => {
    const who: ConversionIdentity = {
      time: 10_000 + H,
      user: { os: 'ios', ip: '198.51.100.7' },
      linked: [],
    };
    const byIp = touch({ touch_id: 'clk-ip' });
    expect(attribute(who, [byIp], rules)).toMatchObject({
      attributed: true,
      attribution: { click_id: 'clk-ip', match_key: 'ip' },
    });
    const decision = attribute(who, [byIp], iosRules);
    expect(decision.attributed).toBe(false);
    expect(!decision.attributed && decision.reason).toMatch(
      /^click clk-ip via ip earns no credit: iOS app event \(user\.os is ios\): IP matching is off/,
    );
  });

  it('MP05 credit falls to the next eligible touch: an older IDFA click beats a later IP click', () => {
    const who: ConversionIdentity = {
      time: 10_000 + 2 * H,
      user: { os: 'ios', idfa: IDFA, ip: '198.51.100.7' },
      linked: [],
    };
    const idfaClick = touch({ touch_id: 'clk-idfa', anonymous_id: `idfa:${IDFA}`, ip: null });
    const ipView = touch({ touch_id: 'imp-ip', kind: 'impression', time: 10_000 + H });
    const decision = attribute(who, [ipView, idfaClick], iosRules);
    expect(decision).toMatchObject({
      attributed: true,
      attribution: { click_id: 'clk-idfa', match_key: 'device_id' },
    });
    const x = explainAttribution(who, [ipView, idfaClick], iosRules, false);
    const ip = x.by_key.find((k) => k.match_key === 'ip')?.touches[0];
    expect(ip).toMatchObject({ verdict: 'not_eligible', touch_id: 'imp-ip' });
    expect(ip?.message).toMatch(
      /inside the 1d probabilistic view window, but earns no credit: iOS/,
    );
    expect(x.passed_over).toEqual([]);
  });

  it('MP06 the explanation of an unattributed iOS install says IP matching is off', () => {
    const who: ConversionIdentity = {
      time: 10_060,
      user: { os: 'ios', ip: '198.51.100.7' },
      linked: [],
    };
    const x = explainAttribution(who, [touch({ touch_id: 'clk-ip' })], iosRules, false);
    expect(x.attributed).toBe(false);
    expect(x.summary).toContain('IP matching is off');
    expect(x.by_key[0].touches[0].verdict).toBe('not_eligible');
  });

  it('MP07 user.os and att_status are validated; an IDFA without ATT authorization is dropped', () => {
    const ctx = {
      nowMs: 1_800_000_000_000,
      source: 'server' as const,
      envId: 'e',
      newId: () => 'g',
    };
    const ok = validateEvent(
      {
        event_name: 'app_install',
        user: { os: 'iOS', idfa: IDFA, att_status: 'denied', idfv: 'v' },
      },
      ctx,
    );
    expect(ok.ok && ok.event.user).toEqual({
      os: 'ios',
      att_status: 'denied',
      idfv: 'v',
      idfa_withheld: 'not_authorized',
    });
    expect(ok.ok && ok.event.warnings).toContain(
      'user.idfa dropped: App Tracking Transparency status is denied',
    );
    const kept = validateEvent({ event_name: 'x', user: { idfa: IDFA, att_status: 3 } }, ctx);
    expect(kept.ok && kept.event.user.idfa).toBe(IDFA);
    const bad = validateEvent(
      { event_name: 'x', user: { os: 'i/o/s', att_status: 'perhaps' } },
      ctx,
    );
    expect(!bad.ok && bad.errors.map((e) => e.field)).toEqual(['user.os', 'user.att_status']);
    const app = validateEvent({ event_name: 'x', app_id: ' 1234567890 ' }, ctx);
    expect(app.ok && app.event.app_id).toBe('1234567890');
  });

  it('MP08 refusing tracking keeps an app event iOS: a withheld IDFA or any ATT status is evidence', () => {
    const ctx = {
      nowMs: 1_800_000_000_000,
      source: 'server' as const,
      envId: 'e',
      newId: () => 'g',
    };
    const evidence = (user: Record<string, unknown>) => {
      const r = validateEvent(
        { event_name: 'app_install', user: { ip: '198.51.100.7', ...user } },
        ctx,
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return { user: r.event.user, why: iosAppEvidence(r.event) };
    };
    const zero = '00000000-0000-0000-0000-000000000000';
    expect(evidence({ idfa: zero })).toEqual({
      user: { ip: '198.51.100.7', idfa_withheld: 'zeros' },
      why: 'it carries an IDFA, all zeros',
    });
    expect(evidence({ idfa: IDFA, att_status: 'denied' }).why).toBe(
      'it carries an IDFA, not kept: App Tracking Transparency status denied',
    );
    expect(evidence({ idfa: zero, att_status: 2 }).why).toBe('it carries an IDFA, all zeros');
    expect(evidence({ att_status: 'restricted' }).why).toBe(
      'it carries an App Tracking Transparency status, restricted',
    );
    expect(evidence({ idfa: IDFA, att_status: 'authorized' }).why).toBe('it carries an IDFA');
    // A zeroed GAID is Android's opt-out: no evidence of anything; garbage is not an IDFA.
    expect(evidence({ gaid: zero }).why).toBeNull();
    expect(evidence({ idfa: 'not an id' }).why).toBeNull();
  });

  it('MP09 the debugger advises an app the keys an app can send, a website the web keys', () => {
    const server = { source: 'server' as const };
    expect(appKindOf({ ...server, user: { att_status: 'denied' } })).toBe('ios');
    expect(appKindOf({ ...server, user: { os: 'android' } })).toBe('android');
    expect(appKindOf({ ...server, user: { install_referrer_click_id: 'c' } })).toBe('android');
    expect(appKindOf({ ...server, user: {}, app_id: 'com.x' }, () => 'android')).toBe('android');
    expect(appKindOf({ ...server, user: { app_instance_id: 'fi' } })).toBe('app');
    expect(appKindOf({ ...server, user: {} })).toBeNull();
    expect(appKindOf({ source: 'pixel', user: { gaid: 'g' } })).toBeNull();
    const who = (user: ConversionIdentity['user']): ConversionIdentity => ({
      time: 10_060,
      user,
      linked: [],
    });
    const missing = (user: ConversionIdentity['user'], app: Parameters<typeof appKindOf>[0]) =>
      explainAttribution(who(user), [], rules, false, appKindOf(app)).missing_keys;
    expect(missing({ ip: '198.51.100.7' }, { ...server, user: { os: 'ios' } })).toEqual([
      'user_id',
      'email',
      'phone',
      'idfa (with ATT authorization)',
      'click_id',
    ]);
    expect(missing({ user_id: 'u' }, { ...server, user: { os: 'android' } })).toEqual([
      'email',
      'phone',
      'gaid',
      'click_id',
      'install_referrer',
    ]);
    expect(missing({ gaid: 'g' }, { ...server, user: { app_instance_id: 'fi' } })).toEqual([
      'user_id',
      'email',
      'phone',
      'click_id',
    ]);
    expect(missing({ ip: '198.51.100.7' }, { ...server, user: {} })).toEqual([
      'user_id',
      'email',
      'phone',
      'cookie',
      'click_id',
      'user_agent',
    ]);
  });
});
