import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../test/helpers/touch.js';
import {
  attribute,
  attributionOf,
  attributionRules,
  type ConversionIdentity,
  candidatesFor,
  probabilisticWindowNotes,
} from './attribution.js';

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
  anonymous_id: 'anon-1',
  ip: '203.0.113.9',
  user_agent: 'UA',
});

function who(
  over: Partial<ConversionIdentity['user']> = {},
  linked: ConversionIdentity['linked'] = [],
) {
  return {
    time: NOW,
    user: { anonymous_id: 'anon-1', ip: '203.0.113.9', user_agent: 'UA', ...over },
    linked,
  };
}

describe('last-touch attribution', () => {
  it('A01 an impression inside the view window is credited as view-through by cookie', () => {
    const d = attribute(who(), [touch({})], rules);
    expect(d).toMatchObject({
      attributed: true,
      attribution: {
        type: 'view',
        imp_id: 'IMP-1',
        match_key: 'cookie',
        window: '1d',
        campaign_id: 'c1',
      },
    });
  });

  it('A02 an impression just outside the view window is not credited, and the reason says why', () => {
    const d = attribute(who(), [touch({ time: NOW - 26 * H })], rules);
    expect(d.attributed).toBe(false);
    if (!d.attributed)
      expect(d.reason).toBe(
        'impression IMP-1 via cookie was 26 h before, outside the 1d view window',
      );
  });

  it('A03 a click inside the click window beats a later impression', () => {
    const d = attribute(
      who(),
      [touch({ kind: 'click', touch_id: 'CL-1', time: NOW - 3 * D }), touch({ time: NOW - 60 })],
      rules,
    );
    expect(d).toMatchObject({
      attributed: true,
      attribution: { type: 'click', click_id: 'CL-1', imp_id: null, window: '7d' },
    });
  });

  it('A04 a click outside the click window loses to an impression inside the view window', () => {
    const d = attribute(
      who(),
      [touch({ kind: 'click', touch_id: 'CL-1', time: NOW - 8 * D }), touch({ time: NOW - 60 })],
      rules,
    );
    expect(d).toMatchObject({ attributed: true, attribution: { type: 'view', imp_id: 'IMP-1' } });
  });

  it('A05 the strongest match key wins over a later touch found by a weaker key', () => {
    const d = attribute(
      who({ user_id: 'u42' }),
      [
        touch({ touch_id: 'IMP-IP', anonymous_id: 'other', time: NOW - 10 }),
        touch({
          touch_id: 'IMP-USER',
          anonymous_id: null,
          user_id: 'u42',
          ip: null,
          time: NOW - 5 * H,
        }),
      ],
      rules,
    );
    expect(d).toMatchObject({
      attributed: true,
      attribution: { imp_id: 'IMP-USER', match_key: 'user_id' },
    });
  });

  it('A06 among touches of one key and kind the latest wins', () => {
    const d = attribute(
      who(),
      [
        touch({ touch_id: 'IMP-OLD', time: NOW - 5 * H }),
        touch({ touch_id: 'IMP-NEW', time: NOW - 1 * H }),
      ],
      rules,
    );
    expect(d).toMatchObject({ attributed: true, attribution: { imp_id: 'IMP-NEW' } });
  });

  it('A07 ip+ua outranks ip alone', () => {
    const d = attribute(
      who({ anonymous_id: 'x' }),
      [
        touch({
          touch_id: 'IMP-IPONLY',
          anonymous_id: null,
          user_agent: 'Other UA',
          time: NOW - 60,
        }),
        touch({ touch_id: 'IMP-IPUA', anonymous_id: null, time: NOW - 2 * H }),
      ],
      rules,
    );
    expect(d).toMatchObject({
      attributed: true,
      attribution: { imp_id: 'IMP-IPUA', match_key: 'ip+ua' },
    });
  });

  it('A08 touches of another destination are never credited; touches of none are', () => {
    expect(attribute(who(), [touch({ dest_id: 'dsp2' })], rules).attributed).toBe(false);
    expect(attribute(who(), [touch({ dest_id: null })], rules).attributed).toBe(true);
  });

  it('A09 an imp_id carried on the event matches its impression', () => {
    const d = attribute(
      who({ anonymous_id: 'x', ip: '198.51.100.7', imp_id: 'IMP-1' }),
      [touch({})],
      rules,
    );
    expect(d).toMatchObject({ attributed: true, attribution: { match_key: 'imp_id' } });
  });

  it('A10 a cookie linked to the email counts as an email match', () => {
    const d = attribute(
      who({ anonymous_id: undefined, ip: undefined, email_sha256: 'e'.repeat(64) }, [
        { anonymous_id: 'anon-1', via: 'email' },
      ]),
      [touch({})],
      rules,
    );
    expect(d).toMatchObject({ attributed: true, attribution: { match_key: 'email' } });
  });

  it('A11 a touch after the conversion is not credited', () => {
    expect(attribute(who(), [touch({ time: NOW + H })], rules).attributed).toBe(false);
  });

  it('A12 windows follow the destination config (30 s view window)', () => {
    const short = { ...rules, view_window_ms: 30_000 };
    expect(attribute(who(), [touch({ time: NOW - 29 })], short).attributed).toBe(true);
    expect(attribute(who(), [touch({ time: NOW - 31 })], short).attributed).toBe(false);
  });

  it('A13 with no touch at all the reason says so', () => {
    expect(attribute(who(), [], rules)).toEqual({
      attributed: false,
      reason: 'no touch of this person for this destination',
    });
  });
});

describe('deterministic matches beat probabilistic ones (issue 19)', () => {
  const OFFICE_IP = '198.51.100.20';
  const SAFARI = 'Mozilla/5.0 (Macintosh) Safari/605.1.15';
  const CHROME = 'Mozilla/5.0 (Windows NT 10.0) Chrome/131.0';

  it("C01 browser D's own impression beats browser E's click from the same office IP", () => {
    const clickE = touch({
      kind: 'click',
      touch_id: 'CLK-E1',
      anonymous_id: 'ptid-E',
      ip: OFFICE_IP,
      user_agent: SAFARI,
      time: NOW - 2 * H,
    });
    const impD = touch({
      touch_id: 'IMP-D1',
      anonymous_id: 'ptid-D',
      ip: OFFICE_IP,
      user_agent: CHROME,
      time: NOW - 3 * H,
    });
    const buyer = who({ anonymous_id: 'ptid-D', ip: OFFICE_IP, user_agent: CHROME });
    expect(attribute(buyer, [clickE, impD], rules)).toMatchObject({
      attributed: true,
      attribution: {
        type: 'view',
        imp_id: 'IMP-D1',
        match_key: 'cookie',
        match_type: 'deterministic',
        window: '1d',
      },
    });
  });

  it('C02 an IP-only click counts only inside the 1d probabilistic click window', () => {
    const click = touch({ kind: 'click', touch_id: 'CLK-IP', anonymous_id: 'x', user_agent: 'B' });
    const inside = attribute(who(), [{ ...click, time: NOW - 23 * H }], rules);
    expect(inside).toMatchObject({
      attributed: true,
      attribution: { match_key: 'ip', match_type: 'probabilistic', window: '1d' },
    });
    const d = attribute(who(), [{ ...click, time: NOW - 2 * D }], rules);
    expect(d).toEqual({
      attributed: false,
      reason: 'click CLK-IP via ip was 48 h before, outside the 1d probabilistic click window',
    });
  });

  it('C03 probabilistic windows never reach further than the destination windows', () => {
    const r = attributionRules({
      id: 'dsp1',
      click_window_ms: 12 * H * 1000,
      view_window_ms: 7 * D * 1000,
      probabilistic_click_window_ms: 3 * D * 1000,
      probabilistic_view_window_ms: 2 * D * 1000,
    });
    expect(r.probabilistic_click_window_ms).toBe(12 * H * 1000);
    expect(r.probabilistic_view_window_ms).toBe(2 * D * 1000);
    expect(
      probabilisticWindowNotes({
        id: 'dsp1',
        click_window_ms: 12 * H * 1000,
        view_window_ms: 7 * D * 1000,
        probabilistic_click_window_ms: 3 * D * 1000,
      }),
    ).toEqual(['probabilistic_click_window 3d is longer than click_window 12h: 12h is used']);
    const late = touch({ kind: 'click', touch_id: 'C', anonymous_id: null, time: NOW - 13 * H });
    expect(attribute(who(), [late], r).attributed).toBe(false);
  });

  it('C04 an ip+ua impression beats an IP-only click; an IP-only click beats an IP-only impression', () => {
    const ipClick = touch({
      kind: 'click',
      touch_id: 'CLK-IP',
      anonymous_id: null,
      user_agent: 'B',
      time: NOW - 60,
    });
    const ipuaImp = touch({ touch_id: 'IMP-IPUA', anonymous_id: null, time: NOW - 5 * H });
    const ipImp = touch({
      touch_id: 'IMP-IP',
      anonymous_id: null,
      user_agent: 'B',
      time: NOW - 10,
    });
    expect(attribute(who({ anonymous_id: 'z' }), [ipClick, ipuaImp, ipImp], rules)).toMatchObject({
      attribution: { imp_id: 'IMP-IPUA', match_key: 'ip+ua' },
    });
    expect(attribute(who({ anonymous_id: 'z' }), [ipClick, ipImp], rules)).toMatchObject({
      attribution: { click_id: 'CLK-IP', match_key: 'ip' },
    });
  });

  it('C05 inside a class the latest touch wins, whatever its key; at the same second the stronger key', () => {
    const byUser = touch({
      kind: 'click',
      touch_id: 'CLK-U',
      anonymous_id: null,
      user_id: 'u1',
      ip: null,
      time: NOW - 5 * H,
    });
    const byCookie = touch({ kind: 'click', touch_id: 'CLK-C', ip: null, time: NOW - H });
    const u = who({ user_id: 'u1' });
    expect(attribute(u, [byUser, byCookie], rules)).toMatchObject({
      attribution: { click_id: 'CLK-C', match_key: 'cookie' },
    });
    expect(attribute(u, [byCookie, { ...byUser, time: NOW - H }], rules)).toMatchObject({
      attribution: { click_id: 'CLK-U', match_key: 'user_id' },
    });
  });

  it('C06 a touch stamped up to 30 s after the conversion counts; 31 s after does not', () => {
    expect(attribute(who(), [touch({ time: NOW + 30 })], rules).attributed).toBe(true);
    expect(attribute(who(), [touch({ time: NOW + 31 })], rules).attributed).toBe(false);
  });

  it('C07 the class and key decide, not the order touches are read in', () => {
    const a = touch({ touch_id: 'IMP-A', dest_id: null, time: NOW - H });
    const b = touch({ touch_id: 'IMP-B', time: NOW - H });
    const c = touch({ touch_id: 'IMP-0', time: NOW - H });
    for (const order of [
      [a, b, c],
      [c, b, a],
      [b, a, c],
    ])
      expect(attribute(who(), order, rules)).toMatchObject({ attribution: { imp_id: 'IMP-0' } });
  });
});

describe('visits never move delivery credit (issue 23)', () => {
  const anon = fc.constantFrom('anon-1', 'anon-2', null);
  const adTouch = fc.record({
    kind: fc.constantFrom('impression' as const, 'click' as const),
    touch_id: fc.constantFrom('T1', 'T2', 'T3'),
    dest_id: fc.constantFrom('dsp1', 'other', null),
    time: fc.integer({ min: NOW - 9 * D, max: NOW + 60 }),
    anonymous_id: anon,
    ip: fc.constantFrom('203.0.113.9', '198.51.100.1', null),
  });
  const visit = fc.record({
    touch_id: fc.constantFrom('v_a', 'v_b', 'T1'),
    time: fc.integer({ min: NOW - 9 * D, max: NOW + 60 }),
    anonymous_id: anon,
    ip: fc.constantFrom('203.0.113.9', null),
    user_id: fc.constantFrom('u1', null),
  });
  it('A40 the same touches with any visits mixed in give the same decision', () => {
    fc.assert(
      fc.property(
        fc.array(adTouch, { maxLength: 8 }),
        fc.array(visit, { maxLength: 8 }),
        fc.nat(),
        (ads, visits, seed) => {
          const touches = ads.map((t) => touch(t));
          const mixed = [...touches];
          visits.forEach((v, i) => {
            const t = touch({
              ...v,
              kind: 'visit',
              dest_id: null,
              traffic_source: { source: 'google', medium: 'organic', by: 'referrer' },
            });
            mixed.splice((seed + i * 7) % (mixed.length + 1), 0, t);
          });
          const person = who({ user_id: 'u1', click_id: 'T1' });
          expect(attribute(person, mixed, rules)).toEqual(attribute(person, touches, rules));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('one-pass winner (issue 22)', () => {
  // attribute() takes its winner in one pass instead of sorting every candidate: it must be
  // the first eligible candidate of candidatesFor's order, ties included (equal times, keys
  // and kinds), so the two cannot drift apart.
  const when = fc.constantFrom(NOW - H, NOW - 2 * H, NOW - 3 * D, NOW - 9 * D, NOW + 20, NOW + 60);
  const adTouch = fc.record({
    kind: fc.constantFrom('impression' as const, 'click' as const, 'visit' as const),
    touch_id: fc.constantFrom('T1', 'T2', 'T3'),
    dest_id: fc.constantFrom('dsp1', 'other', null),
    time: when,
    anonymous_id: fc.constantFrom('anon-1', 'anon-2', 'linked', null),
    user_id: fc.constantFrom('u1', null),
    ip: fc.constantFrom('203.0.113.9', '198.51.100.1', null),
    user_agent: fc.constantFrom('UA', 'other UA'),
    campaign_id: fc.constantFrom('c1', 'c2', null),
  });
  it('A41 attribute() credits the first eligible candidate of candidatesFor, and only misses when there is none', () => {
    fc.assert(
      fc.property(
        fc.array(adTouch, { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (raw, byUser, linked) => {
          const touches = raw.map((t) => touch(t));
          const person = who(
            byUser ? { user_id: 'u1', click_id: 'T1' } : { imp_id: 'T2' },
            linked ? [{ anonymous_id: 'linked', via: 'email' }] : [],
          );
          const first = candidatesFor(person, touches, rules).find(
            (c) => c.in_window && !c.excluded,
          );
          const decision = attribute(person, touches, rules);
          if (first)
            expect(decision).toEqual({
              attributed: true,
              attribution: attributionOf(first, rules),
            });
          else expect(decision.attributed).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
