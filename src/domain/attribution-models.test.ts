import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTION_MODELS,
  type ConversionPath,
  creditPath,
  journeyOf,
  type PathTouch,
  removalEffects,
} from './attribution-models.js';
import { CLOCK_SKEW_S } from './clock-skew.js';

const D = 86_400;
const T = 1_763_900_000;
const LOOKBACK = 30 * D;

const imp = (campaign_id: string, daysBefore: number): PathTouch => ({
  kind: 'impression',
  campaign_id,
  time: T - daysBefore * D,
});
const click = (campaign_id: string, daysBefore: number): PathTouch => ({
  ...imp(campaign_id, daysBefore),
  kind: 'click',
});
const path = (touches: PathTouch[], value = 100): ConversionPath => ({ time: T, value, touches });

/** Credit per campaign, for comparing with a hand-worked table. */
function byCampaign(p: ConversionPath, model: (typeof ATTRIBUTION_MODELS)[number], opts = {}) {
  const out: Record<string, number> = {};
  for (const c of creditPath(model, p, { lookback_s: LOOKBACK, ...opts })) {
    const k = c.touch.campaign_id ?? '(none)';
    out[k] = (out[k] ?? 0) + c.credit;
  }
  return out;
}

function expectCredits(actual: Record<string, number>, want: Record<string, number>) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(want).sort());
  for (const [k, v] of Object.entries(want)) expect(actual[k]).toBeCloseTo(v, 9);
}

// Three touches, oldest first: c1 impression 6 d before, c2 click 3 d before, c3 impression
// 1 d before; value 100.
const three = path([imp('c3', 1), imp('c1', 6), click('c2', 3)]);

describe('attribution models, hand-worked', () => {
  it('M01 last touch gives everything to the latest click, even with a later impression', () => {
    expectCredits(byCampaign(three, 'last_touch'), { c2: 100 });
  });

  it('M02 last touch without clicks gives everything to the latest impression', () => {
    expectCredits(byCampaign(path([imp('c1', 6), imp('c3', 1)]), 'last_touch'), { c3: 100 });
  });

  it('M03 first touch gives everything to the oldest touch', () => {
    expectCredits(byCampaign(three, 'first_touch'), { c1: 100 });
  });

  it('M04 linear splits equally', () => {
    expectCredits(byCampaign(three, 'linear'), { c1: 100 / 3, c2: 100 / 3, c3: 100 / 3 });
  });

  it('M05 time decay halves the weight per half-life (7 d default)', () => {
    // weights 2^(-6/7), 2^(-3/7), 2^(-1/7)
    const w = [2 ** (-6 / 7), 2 ** (-3 / 7), 2 ** (-1 / 7)];
    const s = w[0] + w[1] + w[2];
    expectCredits(byCampaign(three, 'time_decay'), {
      c1: (100 * w[0]) / s,
      c2: (100 * w[1]) / s,
      c3: (100 * w[2]) / s,
    });
  });

  it('M06 time decay with a 1 d half-life: touches 1 d and 2 d before weigh 1/2 and 1/4', () => {
    const p = path([imp('a', 2), imp('b', 1)], 60);
    // 0.25 / 0.75 and 0.5 / 0.75 of 60
    expectCredits(byCampaign(p, 'time_decay', { half_life_s: D }), { a: 20, b: 40 });
  });

  it('M07 position based gives 40/20/40 over three touches', () => {
    expectCredits(byCampaign(three, 'position_based'), { c1: 40, c2: 20, c3: 40 });
  });

  it('M08 position based splits the middle 20 % among several middle touches', () => {
    const p = path([imp('a', 5), imp('b', 4), imp('c', 3), imp('d', 2)]);
    expectCredits(byCampaign(p, 'position_based'), { a: 40, b: 10, c: 10, d: 40 });
  });

  it('M09 position based with two touches is 50/50', () => {
    expectCredits(byCampaign(path([imp('a', 2), imp('b', 1)]), 'position_based'), {
      a: 50,
      b: 50,
    });
  });

  it('M10 a single touch takes the whole value under every model', () => {
    const p = path([imp('solo', 2)], 42);
    for (const m of ATTRIBUTION_MODELS) {
      expectCredits(byCampaign(p, m, { removal_effects: new Map([['solo', 1]]) }), { solo: 42 });
    }
  });

  it('M11 ties at the last instant share the last-touch credit', () => {
    const p = path([imp('a', 5), click('b', 1), click('c', 1)]);
    expectCredits(byCampaign(p, 'last_touch'), { b: 50, c: 50 });
  });

  it('M12 ties at the first instant share the first-touch credit', () => {
    const p = path([imp('a', 5), imp('b', 5), imp('c', 1)]);
    expectCredits(byCampaign(p, 'first_touch'), { a: 50, b: 50 });
  });

  it('M13 touches outside the lookback window or after the conversion are not on the path', () => {
    const p = path([imp('old', 31), imp('in', 2), { ...imp('future', 0), time: T + 3600 }]);
    for (const m of ATTRIBUTION_MODELS) {
      expectCredits(byCampaign(p, m, { removal_effects: new Map([['in', 0.5]]) }), { in: 100 });
    }
  });

  it('M16 a touch stamped up to CLOCK_SKEW_S after the conversion is on its path, as in last touch', () => {
    const late = (campaign_id: string, s: number): PathTouch => ({
      ...imp(campaign_id, 0),
      time: T + s,
    });
    const p = path([late('skewed', CLOCK_SKEW_S), late('after', CLOCK_SKEW_S + 1)]);
    expectCredits(byCampaign(p, 'linear'), { skewed: 100 });
  });

  it('M14 a path with no touch in the window gets no credit at all', () => {
    expect(creditPath('linear', path([imp('old', 40)]), { lookback_s: LOOKBACK })).toEqual([]);
  });

  it('M15 the same campaign twice on a path adds up under linear', () => {
    const p = path([imp('a', 3), imp('b', 2), imp('a', 1)], 90);
    expectCredits(byCampaign(p, 'linear'), { a: 60, b: 30 });
  });
});

describe('Markov removal effect', () => {
  // Three journeys: c1>c2>c3 converts, c1 alone does not, c2>c3 does not.
  // P(start→c1)=2/3, P(start→c2)=1/3, c1→c2 1/2, c1→null 1/2, c2→c3 1, c3→conv 1/2.
  // P(conv) = 2/3·1/2·1·1/2 + 1/3·1·1/2 = 1/3.
  // Without c1: 1/3·1/2 = 1/6 → effect 1 − (1/6)/(1/3) = 0.5. Without c2 or c3: 0 → 1.
  const journeys = [
    { channels: ['c1', 'c2', 'c3'], converted: true },
    { channels: ['c1'], converted: false },
    { channels: ['c2', 'c3'], converted: false },
  ];

  it('K01 matches the hand-computed removal effects', () => {
    const e = removalEffects(journeys);
    expect(e.get('c1')).toBeCloseTo(0.5, 12);
    expect(e.get('c2')).toBeCloseTo(1, 12);
    expect(e.get('c3')).toBeCloseTo(1, 12);
  });

  it('K02 data-driven credits a path in proportion to its channels’ effects (0.5 : 1 : 1)', () => {
    const p = path([imp('c1', 3), imp('c2', 2), imp('c3', 1)], 100);
    expectCredits(byCampaign(p, 'data_driven', { removal_effects: removalEffects(journeys) }), {
      c1: 20,
      c2: 40,
      c3: 40,
    });
  });

  it('K03 a loop between channels is solved exactly', () => {
    const e = removalEffects([
      { channels: ['a', 'b', 'a'], converted: true },
      { channels: ['a'], converted: true },
    ]);
    // Counts: start→a 2; a→b 1, a→conv 2; b→a 1. P(a→conv)=2/3, P(a→b)=1/3.
    // P(conv)=1; without b: 2/3 → effect 1/3. Without a: 0 → effect 1.
    expect(e.get('b')).toBeCloseTo(1 / 3, 12);
    expect(e.get('a')).toBeCloseTo(1, 12);
  });

  it('K04 the journey of a path keeps only in-window touches, oldest first', () => {
    const j = journeyOf(path([imp('z', 1), imp('old', 45), imp('y', 2)]), LOOKBACK);
    expect(j).toEqual({ channels: ['y', 'z'], converted: true });
  });
});

describe('credits add up', () => {
  const touchArb = fc.record({
    kind: fc.constantFrom('impression' as const, 'click' as const),
    campaign_id: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null }),
    time: fc.integer({ min: T - 40 * D, max: T + 60 }),
  });

  it('P01 under every model the credits of a conversion sum to its value', () => {
    fc.assert(
      fc.property(
        fc.array(touchArb, { minLength: 1, maxLength: 12 }),
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        (touches, value) => {
          const p: ConversionPath = { time: T, value, touches };
          const effects = removalEffects([journeyOf(p, LOOKBACK)]);
          for (const m of ATTRIBUTION_MODELS) {
            const credits = creditPath(m, p, { lookback_s: LOOKBACK, removal_effects: effects });
            if (credits.length === 0) continue;
            const sum = credits.reduce((a, c) => a + c.credit, 0);
            expect(Math.abs(sum - value)).toBeLessThanOrEqual(value * 1e-12);
            for (const c of credits) expect(c.credit).toBeGreaterThanOrEqual(-value * 1e-12);
          }
        },
      ),
    );
  });
});
