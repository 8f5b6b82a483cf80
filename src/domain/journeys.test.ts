import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditPath, type Journey, removalEffects } from './attribution-models.js';
import type { Touch } from './event.js';
import { JourneyBuilder, journeyPerson, nonConvertingJourneys } from './journeys.js';

const times = (n: number, j: Journey): Journey[] => Array.from({ length: n }, () => j);

/** The data-driven share of A on a conversion path A → B, given these journeys. */
function shareOfA(journeys: readonly Journey[]): number {
  const credits = creditPath(
    'data_driven',
    {
      time: 100,
      value: 1,
      touches: [
        { kind: 'impression', campaign_id: 'A', time: 10 },
        { kind: 'click', campaign_id: 'B', time: 20 },
      ],
    },
    { lookback_s: 1000, removal_effects: removalEffects(journeys) },
  );
  return credits.find((c) => c.touch.campaign_id === 'A')?.share ?? 0;
}

const touch = (over: Partial<Touch>): Touch => ({
  env_id: 'e',
  kind: 'impression',
  touch_id: `t${Math.random()}`,
  dest_id: null,
  campaign_id: 'A',
  creative_id: null,
  placement_id: null,
  time: 0,
  anonymous_id: null,
  user_id: null,
  ip: null,
  user_agent: null,
  ...over,
});

describe('data-driven attribution with non-converting journeys', () => {
  it('DJ01 a channel whose journeys mostly end without a sale loses credit (1/3 → 1/4)', () => {
    // Converters: 10 saw A then B, 10 only B. Seen from them alone, A always leads to B and B
    // always converts: A's removal effect is 1/2, B's 1, and A gets a third of an A → B sale.
    const converting = [
      ...times(10, { channels: ['A', 'B'], converted: true }),
      ...times(10, { channels: ['B'], converted: true }),
    ];
    expect(shareOfA(converting)).toBeCloseTo(1 / 3, 12);
    // But 80 people saw A and went nowhere, 10 saw B and did not buy. By hand: from START,
    // A 90/110 and B 20/110; A → B 1/9; B → sale 2/3: P(sale) = 2/11. Without A: 4/33, an
    // effect of 1/3; without B: 0, an effect of 1. A's share falls to (1/3)/(4/3) = 1/4.
    const all = [
      ...converting,
      ...times(80, { channels: ['A'], converted: false }),
      ...times(10, { channels: ['B'], converted: false }),
    ];
    expect(shareOfA(all)).toBeCloseTo(1 / 4, 12);
  });

  it('DJ02 a weighted journey counts as that many journeys', () => {
    const converting = [
      ...times(10, { channels: ['A', 'B'], converted: true }),
      ...times(10, { channels: ['B'], converted: true }),
    ];
    const weighted = [
      ...converting,
      { channels: ['A'], converted: false, weight: 80 },
      { channels: ['B'], converted: false, weight: 10 },
    ];
    expect(shareOfA(weighted)).toBeCloseTo(1 / 4, 12);
  });

  it('DJ03 journeys are per person, without touches of conversion paths, split by the window', () => {
    const ts = [
      touch({ touch_id: 'x1', anonymous_id: 'p1', campaign_id: 'A', time: 0 }),
      touch({ touch_id: 'x2', anonymous_id: 'p2', campaign_id: 'B', time: 5 }),
      touch({ touch_id: 'x3', anonymous_id: 'p1', campaign_id: 'B', time: 10 }),
      touch({ touch_id: 'conv', anonymous_id: 'p1', campaign_id: 'C', time: 20 }),
      // More than a window after p1's last touch: a new journey.
      touch({ touch_id: 'x4', anonymous_id: 'p1', campaign_id: 'C', time: 200 }),
      touch({ touch_id: 'x5', user_id: 'u1', campaign_id: 'A', time: 30 }),
      touch({ touch_id: 'x6', ip: '203.0.113.9', user_agent: 'UA', campaign_id: 'B', time: 40 }),
      touch({ touch_id: 'x7', campaign_id: 'A', time: 50 }),
    ];
    const out = nonConvertingJourneys(ts, new Set(['conv']), 100);
    const campaigns = out.map((j) => j.touches.map((t) => t.campaign_id).join('>')).sort();
    expect(campaigns).toEqual(['A', 'A>B', 'B', 'B', 'C']);
    expect(out.every((j) => j.weight === 1)).toBe(true);
  });

  it('DJ04 every journey carries the weight it is given; a touch of no one is left out', () => {
    const ts = Array.from({ length: 6 }, (_, i) =>
      touch({ touch_id: `w${i}`, anonymous_id: `p${i % 2}`, time: i }),
    );
    const out = nonConvertingJourneys(ts, new Set(), 100, 4);
    expect(out.map((j) => [j.touches.length, j.weight])).toEqual([
      [3, 4],
      [3, 4],
    ]);
    expect(
      journeyPerson({ anonymous_id: null, user_id: null, ip: '1.2.3.4', user_agent: null }),
    ).toBeNull();
  });
});

describe('journeys built page by page (issue 22)', () => {
  it('DJ07 touches added in pages give the journeys of one pass, whatever the page sizes', () => {
    const touchArb = fc.record({
      person: fc.constantFrom('p1', 'p2', 'p3', null),
      kind: fc.constantFrom('impression' as const, 'click' as const, 'visit' as const),
      id: fc.constantFrom('v1', 'v2', 'v3', 'v4', 'v5', 'v6'),
      gap: fc.integer({ min: 0, max: 900 }),
    });
    fc.assert(
      fc.property(
        fc.array(touchArb, { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 }),
        (specs, sizes) => {
          let time = 0;
          const ts = specs.map((x, i) => {
            time += x.gap;
            // Visits keep their id (their repeats collapse); ads get their own.
            const touch_id = x.kind === 'visit' ? x.id : `t${i}`;
            return touch({ kind: x.kind, touch_id, anonymous_id: x.person, time });
          });
          const converted = new Set(['t3', 'v2']);
          const whole = nonConvertingJourneys(ts, converted, 3_000, 2);
          const b = new JourneyBuilder(converted, 3_000);
          for (let at = 0, k = 0; at < ts.length; at += sizes[k++ % sizes.length])
            b.add(ts.slice(at, at + sizes[k % sizes.length]));
          expect(b.finish(2)).toEqual(whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
