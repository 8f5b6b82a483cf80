import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../test/helpers/touch.js';
import { attributionRules, type ConversionIdentity, matchKeyFor } from './attribution.js';
import { explainAttribution, matchKeysFor } from './attribution-explain.js';
import type { Touch } from './event.js';

const H = 3600;
const D = 86_400;
const NOW = 1_763_900_000;
const rules = attributionRules({
  id: 'dsp1',
  click_window_ms: 7 * D * 1000,
  view_window_ms: D * 1000,
});

const touch = touchMaker({
  time: NOW - H,
  anonymous_id: null,
  ip: '203.0.113.9',
  user_agent: 'UA',
});

function who(
  over: Partial<ConversionIdentity['user']> = {},
  linked: ConversionIdentity['linked'] = [],
): ConversionIdentity {
  return { time: NOW, user: { ip: '203.0.113.9', user_agent: 'UA', ...over }, linked };
}

describe('why (not) attributed', () => {
  it('X01 an impression 26 h before misses the 1 d view window, and says so', () => {
    const x = explainAttribution(
      who(),
      [touch({ touch_id: 'IMP-9', time: NOW - 26 * H })],
      rules,
      false,
    );
    expect(x.attributed).toBe(false);
    expect(x.summary).toBe(
      'impression IMP-9 via ip+ua was 26 h before, outside the 1d probabilistic view window',
    );
    expect(x.by_key).toEqual([
      {
        match_key: 'ip+ua',
        touches: [
          expect.objectContaining({
            touch_id: 'IMP-9',
            verdict: 'outside_window',
            gap_s: 26 * H,
            message:
              'impression IMP-9 via ip+ua was 26 h before, outside the 1d probabilistic view window',
          }),
        ],
      },
    ]);
    expect(x.missing_keys).toEqual(['user_id', 'email', 'phone', 'cookie', 'click_id']);
  });

  it("X02 another destination's touch is shown with the rule it misses", () => {
    const x = explainAttribution(who(), [touch({ dest_id: 'dsp2' })], rules, false);
    expect(x.attributed).toBe(false);
    expect(x.by_key[0].touches[0]).toMatchObject({
      verdict: 'other_destination',
      message:
        'impression IMP-1 via ip+ua was served by dsp2; dsp1 is credited only for its own touches',
    });
  });

  it('X03 the credited click is marked; an in-window impression it beat is shown as beaten', () => {
    const x = explainAttribution(
      who({ anonymous_id: 'a1' }),
      [
        touch({ kind: 'click', touch_id: 'CLK-1', anonymous_id: 'a1', time: NOW - 3 * D }),
        touch({ touch_id: 'IMP-2', time: NOW - H }),
        touch({ touch_id: 'IMP-LATE', time: NOW + H }),
      ],
      rules,
      false,
    );
    expect(x.attributed).toBe(true);
    expect(x.summary).toBe('credited click CLK-1 via cookie, deterministic (7d click window)');
    expect(x.match_type).toBe('deterministic');
    const byId = Object.fromEntries(x.by_key[1].touches.map((t) => [t.touch_id, t.verdict]));
    expect(byId).toEqual({
      'IMP-2': 'beaten',
      'IMP-LATE': 'after_conversion',
      'CLK-1': 'credited',
    });
  });

  it('X04 a touch found by cookie and by ip+ua is listed under both keys, strongest first', () => {
    const x = explainAttribution(
      who({ anonymous_id: 'a1' }),
      [touch({ anonymous_id: 'a1' })],
      rules,
      false,
    );
    expect(x.by_key.map((k) => [k.match_key, k.touches[0].verdict])).toEqual([
      ['cookie', 'credited'],
      ['ip+ua', 'credited'],
    ]);
    expect(x.by_key[1].touches[0].message).toBe(
      'impression IMP-1 via ip+ua: the credited touch, also found by this key',
    );
  });

  it('X05 denied consent: in-window touches are shown, none is credited', () => {
    const x = explainAttribution(who(), [touch({})], rules, true);
    expect(x).toMatchObject({ attributed: false, summary: expect.stringMatching(/consent/) });
    expect(x.by_key[0].touches[0].verdict).toBe('consent_denied');
  });

  it('X06 the strongest key listed is always the one attribution uses', () => {
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const small = fc.constantFrom('a', 'b');
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom<Touch['kind']>('impression', 'click'),
          touch_id: small,
          anonymous_id: fc.option(small, { nil: null }),
          user_id: fc.option(small, { nil: null }),
          ip: fc.option(small, { nil: null }),
          user_agent: fc.option(small, { nil: null }),
        }),
        fc.record({
          anonymous_id: opt(small),
          cookie_id: opt(small),
          user_id: opt(small),
          click_id: opt(small),
          imp_id: opt(small),
          ip: opt(small),
          user_agent: opt(small),
        }),
        fc.array(
          fc.record({
            anonymous_id: small,
            via: fc.constantFrom<'user_id' | 'email' | 'phone'>('user_id', 'email', 'phone'),
          }),
          { maxLength: 3 },
        ),
        (t, user, linked) => {
          const w: ConversionIdentity = { time: NOW, user, linked };
          const tt = touch(t);
          expect(matchKeysFor(tt, w)[0] ?? null).toBe(matchKeyFor(tt, w));
        },
      ),
    );
  });

  it('X07 the explanation names each passed-over candidate and the rule that beat it', () => {
    const x = explainAttribution(
      who({ anonymous_id: 'a1', user_id: 'u1' }),
      [
        touch({ kind: 'click', touch_id: 'CLK-IP', time: NOW - 60 }),
        touch({ touch_id: 'IMP-OWN', anonymous_id: 'a1', ip: null, time: NOW - 2 * H }),
        touch({ touch_id: 'IMP-OLDER', anonymous_id: 'a1', ip: null, time: NOW - 3 * H }),
        touch({ touch_id: 'IMP-TIE', user_id: 'u1', ip: null, time: NOW - 2 * H }),
      ],
      rules,
      false,
    );
    expect(x.summary).toBe(
      'credited impression IMP-TIE via user_id, deterministic (1d view window)',
    );
    expect(x.passed_over.map((p) => p.reason)).toEqual([
      'impression IMP-OWN via cookie: the credited impression IMP-TIE via user_id ' +
        '(deterministic impression) is of the same class and time, with a stronger key',
      'impression IMP-OLDER via cookie: the credited impression IMP-TIE via user_id ' +
        '(deterministic impression) is of the same class and later',
      'click CLK-IP via ip+ua: an ip+ua click ranks below the credited impression IMP-TIE ' +
        'via user_id (deterministic impression)',
    ]);
    const clickVerdict = x.by_key.flatMap((k) => k.touches).find((t) => t.touch_id === 'CLK-IP');
    expect(clickVerdict).toMatchObject({
      verdict: 'beaten',
      match_type: 'probabilistic',
      message: expect.stringContaining(
        'inside the 1d probabilistic click window; passed over: an ip+ua',
      ),
    });
  });
});
