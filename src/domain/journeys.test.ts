import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditPath, type Journey, removalEffects } from './attribution-models.js';
import { VISIT_SESSION_S } from './conversion-path.js';
import type { Touch } from './event.js';
import {
  type ChannelOf,
  JourneyBuilder,
  type JourneyTally,
  type JourneyTouch,
  journeyPerson,
  nonConvertingJourneys,
} from './journeys.js';

const byCampaign: ChannelOf = (t) => t.campaign_id;

/** A tally's journeys as runs of channels ("A>B"), one a journey, sorted. */
function runs(tally: JourneyTally, weight = 1): string[] {
  return tally.journeys
    .flatMap((j) => Array.from({ length: (j.weight ?? 1) / weight }, () => j.channels.join('>')))
    .sort();
}

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
    const out = nonConvertingJourneys(ts, new Set(['conv']), 100, byCampaign);
    expect(runs(out)).toEqual(['A', 'A>B', 'B', 'B', 'C']);
    expect(out.count).toBe(5);
    // Journeys through the same channels are one, weighing as many.
    expect(out.journeys).toHaveLength(4);
    expect(out.journeys.find((j) => j.channels.join() === 'B')?.weight).toBe(2);
  });

  it('DJ04 every journey carries the weight it is given; a touch of no one is left out', () => {
    const ts = Array.from({ length: 6 }, (_, i) =>
      touch({ touch_id: `w${i}`, anonymous_id: `p${i % 2}`, time: i }),
    );
    const out = nonConvertingJourneys(ts, new Set(), 100, byCampaign, 4);
    expect(out.journeys).toEqual([{ channels: ['A', 'A', 'A'], converted: false, weight: 8 }]);
    expect(out.count).toBe(2);
    expect(
      journeyPerson({ anonymous_id: null, user_id: null, ip: '1.2.3.4', user_agent: null }),
    ).toBeNull();
  });
});

/**
 * The journeys as DESIGN §6 and issue 23 §2 describe them, the long way: every kept touch of
 * each person in a list, split by the window, then keyed, as the report did before journeys
 * were tallied as they were read (issue 22, sixteenth round).
 */
function referenceRuns(
  ts: readonly JourneyTouch[],
  converted: ReadonlySet<string>,
  lookback_s: number,
  channelOf: ChannelOf,
): { runs: string[]; count: number } {
  const lastVisit = new Map<string, number>();
  const kept = (t: JourneyTouch) => {
    if (t.kind !== 'visit') return true;
    const last = lastVisit.get(t.touch_id);
    lastVisit.set(t.touch_id, t.time);
    return last === undefined || t.time - last >= VISIT_SESSION_S;
  };
  const open = new Map<string, JourneyTouch[]>();
  const all: JourneyTouch[][] = [];
  for (const t of ts) {
    if (!kept(t) || converted.has(t.touch_id)) continue;
    const person = journeyPerson(t);
    if (person === null) continue;
    const j = open.get(person);
    const last = j?.at(-1);
    if (j && last && t.time - last.time < lookback_s) j.push(t);
    else {
      const fresh = [t];
      open.set(person, fresh);
      all.push(fresh);
    }
  }
  const keyed = all.map((j) =>
    j.flatMap((t) => {
      const c = channelOf(t);
      return c === null ? [] : [c];
    }),
  );
  return {
    runs: keyed
      .filter((c) => c.length > 0)
      .map((c) => c.join('>'))
      .sort(),
    count: all.length,
  };
}

describe('journeys built page by page (issue 22)', () => {
  const touchArb = fc.record({
    person: fc.constantFrom('p1', 'p2', 'p3', null),
    user: fc.constantFrom('u1', null),
    device: fc.boolean(),
    kind: fc.constantFrom('impression' as const, 'click' as const, 'visit' as const),
    id: fc.constantFrom('v1', 'v2', 'v3', 'v4', 'v5', 'v6'),
    campaign: fc.constantFrom('A', 'B', 'C', null),
    gap: fc.integer({ min: 0, max: 900 }),
  });
  type Spec = typeof touchArb extends fc.Arbitrary<infer X> ? X : never;
  const touchesOf = (specs: Spec[]) => {
    let time = 0;
    return specs.map((x, i) => {
      time += x.gap;
      // Visits keep their id (their repeats collapse); ads get their own.
      const touch_id = x.kind === 'visit' ? x.id : `t${i}`;
      return touch({
        kind: x.kind,
        touch_id,
        anonymous_id: x.person,
        user_id: x.user,
        ip: x.device ? '203.0.113.9' : null,
        user_agent: x.device ? 'UA' : null,
        campaign_id: x.campaign,
        time,
      });
    });
  };
  // Touches of no campaign stand for those the dimension leaves out (ignored referrers).
  const dropNone: ChannelOf = (t) => t.campaign_id;

  it('DJ07 touches added in pages give the journeys of one pass, whatever the page sizes', () => {
    fc.assert(
      fc.property(
        fc.array(touchArb, { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 }),
        (specs, sizes) => {
          const ts = touchesOf(specs);
          const converted = new Set(['t3', 'v2']);
          const whole = nonConvertingJourneys(ts, converted, 3_000, dropNone, 2);
          const b = new JourneyBuilder(converted, 3_000, dropNone);
          for (let at = 0, k = 0; at < ts.length; at += sizes[k++ % sizes.length])
            b.add(ts.slice(at, at + sizes[k % sizes.length]));
          expect(b.finish(2)).toEqual(whole);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('DJ09 the tally holds the journeys of the touches kept whole, keyed after', () => {
    fc.assert(
      fc.property(fc.array(touchArb, { maxLength: 80 }), (specs) => {
        const ts = touchesOf(specs);
        const converted = new Set(['t3', 'v2', 't10']);
        const tally = nonConvertingJourneys(ts, converted, 1_500, dropNone);
        const ref = referenceRuns(ts, converted, 1_500, dropNone);
        expect(runs(tally)).toEqual(ref.runs);
        expect(tally.count).toBe(ref.count);
        expect(tally.journeys.every((j) => j.converted === false)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('a long journey (issue 22)', () => {
  it('DJ10 one person with 50,000 touches in the window is one journey of 50,000 channels, in linear time', () => {
    // A busy device (one address and user agent, no ids) touching every 10 s: its run in the
    // tree is as deep as the journey is long. Copying each run's channels into every node of
    // the tree took 2 s and 405 MB for 8,000 touches, and walking it recursively overflowed
    // the stack.
    const n = 50_000;
    const ts = Array.from({ length: n }, (_, i) =>
      touch({
        touch_id: `d${i}`,
        ip: '203.0.113.9',
        user_agent: 'UA',
        campaign_id: i % 2 ? 'A' : 'B',
        time: i * 10,
      }),
    );
    const out = nonConvertingJourneys(ts, new Set(), 30 * 86_400, byCampaign);
    expect(out.count).toBe(1);
    expect(out.journeys).toHaveLength(1);
    const [j] = out.journeys;
    expect(j.channels).toHaveLength(n);
    expect(j.channels.slice(0, 3)).toEqual(['B', 'A', 'B']);
    expect(j.weight).toBe(1);
  });
});
