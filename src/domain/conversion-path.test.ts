import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../test/helpers/touch.js';
import type { ConversionIdentity } from './attribution.js';
import {
  conversionPathTouches,
  MAX_PROBABILISTIC_PATH_TOUCHES,
  type PathRules,
  VISIT_SESSION_S,
  visitStarts,
} from './conversion-path.js';
import { deterministicOnly, iosProbabilisticOff } from './mobile-platform.js';

const H = 3600;
const D = 86_400;
const NOW = 1_763_900_000;
const OFFICE_IP = '203.0.113.9';

const rules: PathRules = {
  lookback_s: 7 * D,
  probabilistic_click_window_s: D,
  probabilistic_view_window_s: D,
};

const touch = touchMaker({
  time: NOW - H,
  anonymous_id: 'anon-other',
  ip: OFFICE_IP,
  user_agent: 'Other UA',
});

function buyer(user: ConversionIdentity['user']): ConversionIdentity {
  return { time: NOW, user, linked: [] };
}

const ids = (path: ReturnType<typeof conversionPathTouches>) =>
  path.map((t) => [t.touch_id, t.match_key]);

describe('conversion path touches', () => {
  it("CPT01 a buyer's own cookie click keeps another person's impression at the same IP out", () => {
    const who = buyer({ anonymous_id: 'anon-buyer', ip: OFFICE_IP, user_agent: 'UA' });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-own', anonymous_id: 'anon-buyer', time: NOW - 2 * D }),
      touch({ touch_id: 'IMP-colleague', time: NOW - H }),
    ];
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([['CLK-own', 'cookie']]);
  });

  it('CPT02 a buyer known only by IP keeps IP touches within 1 d, not older ones', () => {
    const who = buyer({ anonymous_id: 'anon-new', ip: OFFICE_IP, user_agent: 'UA' });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-3d', time: NOW - 3 * D }),
      touch({ touch_id: 'IMP-25h', time: NOW - 25 * H }),
      touch({ kind: 'click', touch_id: 'CLK-20h', time: NOW - 20 * H }),
      touch({ touch_id: 'IMP-1h', time: NOW - H }),
    ];
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([
      ['CLK-20h', 'ip'],
      ['IMP-1h', 'ip'],
    ]);
  });

  it('CPT03 the probabilistic click and view windows apply to their own kind', () => {
    const who = buyer({ ip: OFFICE_IP });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-30h', time: NOW - 30 * H }),
      touch({ touch_id: 'IMP-30h', time: NOW - 30 * H }),
      touch({ kind: 'visit', touch_id: 'VIS-30h', time: NOW - 30 * H, dest_id: null }),
    ];
    const wideClicks = { ...rules, probabilistic_click_window_s: 2 * D };
    expect(ids(conversionPathTouches(who, touches, wideClicks))).toEqual([
      ['CLK-30h', 'ip'],
      ['VIS-30h', 'ip'],
    ]);
  });

  it('CPT04 an iOS app install takes no IP touches unless the rule allows them', () => {
    const who = buyer({ idfv: 'IDFV-1', os: 'ios', ip: OFFICE_IP, user_agent: 'UA' });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-ip', time: NOW - H }),
      touch({ touch_id: 'IMP-ipua', time: NOW - 2 * H, user_agent: 'UA' }),
    ];
    // The rule ingest gives an iOS app event without ios_probabilistic_matching (eligibility.ts).
    const only = deterministicOnly(iosProbabilisticOff('user.os ios'));
    const ios: PathRules = { ...rules, exclude: (_touch, key) => only(key) };
    expect(conversionPathTouches(who, touches, ios)).toEqual([]);
    // Allowed, the device's ip+ua impression keeps the bare address's click off (CPT06).
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([['IMP-ipua', 'ip+ua']]);
  });

  it('CPT05 deterministic touches of any key keep their own lookback and match key', () => {
    const who = buyer({ user_id: 'u1', anonymous_id: 'anon-buyer', ip: OFFICE_IP });
    const touches = [
      touch({ touch_id: 'IMP-8d', user_id: 'u1', time: NOW - 8 * D }),
      touch({ touch_id: 'IMP-6d', user_id: 'u1', time: NOW - 6 * D }),
      touch({ kind: 'click', touch_id: 'CLK-5d', anonymous_id: 'anon-buyer', time: NOW - 5 * D }),
      touch({ touch_id: 'IMP-ip', time: NOW - H }),
    ];
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([
      ['IMP-6d', 'user_id'],
      ['CLK-5d', 'cookie'],
    ]);
  });

  it("CPT06 the same device's ip+ua touches keep the bare address's other visitors off the path", () => {
    const who = buyer({ anonymous_id: 'anon-new', ip: OFFICE_IP, user_agent: 'UA' });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-stranger', time: NOW - H }),
      touch({ touch_id: 'IMP-device', time: NOW - 3 * H, user_agent: 'UA' }),
      touch({ kind: 'visit', touch_id: 'VIS-stranger', time: NOW - 2 * H, dest_id: null }),
    ];
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([['IMP-device', 'ip+ua']]);
  });

  it('CPT07 a busy address gives a path its newest address-matched touches, no more', () => {
    const who = buyer({ anonymous_id: 'anon-new', ip: OFFICE_IP, user_agent: 'UA' });
    const n = MAX_PROBABILISTIC_PATH_TOUCHES + 30;
    // Strangers' impressions a minute apart, the newest a minute before the purchase.
    const touches = Array.from({ length: n }, (_, i) =>
      touch({ touch_id: `IMP-${String(i).padStart(3, '0')}`, time: NOW - (n - i) * 60 }),
    );
    const path = conversionPathTouches(who, touches, rules);
    expect(path.map((t) => t.touch_id)).toEqual(
      touches.slice(-MAX_PROBABILISTIC_PATH_TOUCHES).map((t) => t.touch_id),
    );
  });

  it("CPT08 the bound leaves a person's own touches whole, however many", () => {
    const who = buyer({ anonymous_id: 'anon-buyer', ip: OFFICE_IP, user_agent: 'UA' });
    const n = MAX_PROBABILISTIC_PATH_TOUCHES + 5;
    const touches = Array.from({ length: n }, (_, i) =>
      touch({ touch_id: `IMP-own-${i}`, anonymous_id: 'anon-buyer', time: NOW - (i + 1) * 60 }),
    );
    expect(conversionPathTouches(who, touches, rules)).toHaveLength(n);
  });
});

describe('conversion path touches: the strongest key among ad touches', () => {
  it("CPT09 the device's ip+ua visit keeps the address's ip click, which delivery credits", () => {
    const who = buyer({ anonymous_id: 'anon-new', ip: OFFICE_IP, user_agent: 'UA' });
    const touches = [
      touch({ kind: 'click', touch_id: 'CLK-ip', time: NOW - 3 * H }),
      touch({
        kind: 'visit',
        touch_id: 'VIS-device',
        time: NOW - H,
        dest_id: null,
        user_agent: 'UA',
      }),
      touch({ kind: 'visit', touch_id: 'VIS-stranger', time: NOW - 2 * H, dest_id: null }),
    ];
    // Visits follow the ad touches' key: with ip ad touches, visits of either key stay.
    expect(ids(conversionPathTouches(who, touches, rules))).toEqual([
      ['CLK-ip', 'ip'],
      ['VIS-stranger', 'ip'],
      ['VIS-device', 'ip+ua'],
    ]);
    // With no ad touch, the visits' own strongest key.
    expect(ids(conversionPathTouches(who, touches.slice(1), rules))).toEqual([
      ['VIS-device', 'ip+ua'],
    ]);
  });

  it("CPT10 each destination's credited IP touch stays: another's ip+ua touch, 20 newer impressions", () => {
    const who = buyer({ anonymous_id: 'anon-new', ip: OFFICE_IP, user_agent: 'UA' });
    const n = MAX_PROBABILISTIC_PATH_TOUCHES + 5;
    const touches = [
      // dsp1's class-5 winner (an ip click beats newer ip impressions), older than all of them.
      touch({ kind: 'click', touch_id: 'CLK-dsp1', dest_id: 'dsp1', time: NOW - 20 * H }),
      ...Array.from({ length: n }, (_, i) =>
        touch({
          touch_id: `IMP-${String(i).padStart(3, '0')}`,
          dest_id: 'dsp1',
          time: NOW - (n - i) * 60,
        }),
      ),
    ];
    const path = conversionPathTouches(who, touches, rules);
    expect(path.map((t) => t.touch_id)).toEqual([
      'CLK-dsp1',
      ...touches.slice(-MAX_PROBABILISTIC_PATH_TOUCHES).map((t) => t.touch_id),
    ]);
    // dsp2's ip+ua impression is the strongest key among ad touches: dsp1's ip impressions
    // leave, its credited ip click (class 5) stays.
    const device = touch({
      touch_id: 'IMP-dsp2',
      dest_id: 'dsp2',
      time: NOW - 2 * H,
      user_agent: 'UA',
    });
    expect(ids(conversionPathTouches(who, [...touches, device], rules))).toEqual([
      ['CLK-dsp1', 'ip'],
      ['IMP-dsp2', 'ip+ua'],
    ]);
  });
});

describe('repeats of a visit (issue 22)', () => {
  it('CPT11 a visit starts again only a session after its last copy, over any span of time', () => {
    // The long way: every visit's last copy remembered for ever.
    const reference = (
      ts: readonly { kind: 'visit' | 'click'; touch_id: string; time: number }[],
    ) => {
      const last = new Map<string, number>();
      return ts.map((t) => {
        if (t.kind !== 'visit') return true;
        const before = last.get(t.touch_id);
        last.set(t.touch_id, t.time);
        return before === undefined || t.time - before >= VISIT_SESSION_S;
      });
    };
    const S = VISIT_SESSION_S;
    // v1's copy 0.9 of a session after the first, with other visits between.
    const visits = [0, 0.4, 0.5, 1.0, 1.3].map((at, i) => ({
      kind: 'visit' as const,
      touch_id: ['v0', 'v1', 'v2', 'v3', 'v1'][i],
      time: NOW + at * S,
    }));
    const starts = visitStarts();
    expect(visits.map((t) => starts(t))).toEqual([true, true, true, true, false]);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('visit' as const, 'visit' as const, 'click' as const),
            id: fc.constantFrom('v1', 'v2', 'v3', 'v4'),
            // Gaps about a session long, and exactly one or two, where the copies change hands.
            gap: fc.oneof(
              fc.integer({ min: 0, max: S / 4 }),
              fc.integer({ min: 0, max: 3 * S }),
              fc.constantFrom(0, S - 1, S, S + 1, 2 * S - 1, 2 * S, 2 * S + 1),
            ),
          }),
          { maxLength: 80 },
        ),
        (specs) => {
          let time = NOW;
          const ts = specs.map((x) => {
            time += x.gap;
            return { kind: x.kind, touch_id: x.id, time };
          });
          const kept = visitStarts();
          expect(ts.map((t) => kept(t))).toEqual(reference(ts));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
