import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CandidateSource, candidateSources } from './audience-candidates.js';
import { evaluate, type PersonHistory, parseRules } from './audience-rules.js';

function rules(raw: unknown) {
  const parsed = parseRules(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.rules;
}

const NOW = 1_000_000;
const EVENTS = ['Purchase', 'AddToCart', 'Refund'];
const CAMPAIGNS = ['c1', 'c2'];
const WITHINS = ['1h', '1d', '7d'];

const leaf = fc.oneof(
  fc.record({
    event: fc.constantFrom(...EVENTS),
    within: fc.constantFrom(...WITHINS),
    where: fc.option(fc.record({ value: fc.record({ '>': fc.integer({ min: 0, max: 100 }) }) }), {
      nil: undefined,
    }),
  }),
  fc.record({
    touch: fc.constantFrom('impression', 'click'),
    campaign_id: fc.option(fc.constantFrom(...CAMPAIGNS), { nil: undefined }),
    within: fc.constantFrom(...WITHINS),
  }),
);
const clean = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const { node } = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf.map(clean),
    fc
      .record({
        all: fc.option(fc.array(tie('node'), { minLength: 1, maxLength: 3 }), { nil: undefined }),
        any: fc.option(fc.array(tie('node'), { minLength: 1, maxLength: 3 }), { nil: undefined }),
        none: fc.option(fc.array(tie('node'), { minLength: 1, maxLength: 3 }), { nil: undefined }),
      })
      .map(clean)
      .filter((g) => Object.keys(g).length > 0),
  ),
}));
// Groups only, within the parser's nesting bound.
const topGroup = node.filter(
  (n) =>
    typeof n === 'object' &&
    n !== null &&
    ('all' in n || 'any' in n || 'none' in n) &&
    parseRules(n).ok,
);

const history = fc.record({
  events: fc.array(
    fc.record({
      event_name: fc.constantFrom(...EVENTS),
      time: fc.integer({ min: NOW - 10 * 86_400, max: NOW + 86_400 }),
      properties: fc.record({ value: fc.integer({ min: 0, max: 100 }) }),
    }),
    { maxLength: 6 },
  ),
  touches: fc.array(
    fc.record({
      kind: fc.constantFrom('impression' as const, 'click' as const),
      campaign_id: fc.option(fc.constantFrom(...CAMPAIGNS), { nil: null }),
      time: fc.integer({ min: NOW - 10 * 86_400, max: NOW + 86_400 }),
    }),
    { maxLength: 6 },
  ),
});

/** Has the person a record of one of the sources, inside its window at `now` or later? */
function hasSource(sources: CandidateSource[], h: PersonHistory, now: number): boolean {
  return sources.some((s) =>
    s.type === 'event'
      ? h.events.some((e) => e.event_name === s.event && e.time > now - s.within_s)
      : h.touches.some(
          (t) =>
            t.kind === s.touch &&
            (s.campaign_id === null || t.campaign_id === s.campaign_id) &&
            t.time > now - s.within_s,
        ),
  );
}

describe('candidateSources: who could be in an audience', () => {
  it('AC01 names the records a member needs: one of an all, every branch of an any', () => {
    expect(candidateSources(rules({ all: [{ event: 'Purchase', within: '30d' }] }))).toEqual([
      { type: 'event', event: 'Purchase', within_s: 30 * 86_400 },
    ]);
    expect(
      candidateSources(
        rules({
          all: [{ none: [{ event: 'Refund', within: '7d' }] }, { touch: 'click', within: '1d' }],
        }),
      ),
    ).toEqual([{ type: 'touch', touch: 'click', campaign_id: null, within_s: 86_400 }]);
    expect(
      candidateSources(
        rules({
          any: [
            { event: 'AddToCart', within: '1d' },
            { touch: 'impression', campaign_id: 'c1', within: '7d' },
          ],
        }),
      ),
    ).toEqual([
      { type: 'event', event: 'AddToCart', within_s: 86_400 },
      { type: 'touch', touch: 'impression', campaign_id: 'c1', within_s: 7 * 86_400 },
    ]);
    expect(candidateSources(rules({ none: [{ event: 'Purchase', within: '30d' }] }))).toBe(
      'everyone',
    );
    expect(
      candidateSources(
        rules({
          any: [
            { event: 'AddToCart', within: '1d' },
            { none: [{ event: 'Purchase', within: '1d' }] },
          ],
        }),
      ),
    ).toBe('everyone');
  });

  it('AC02 a person without any such record is no member, now or at any later moment', () => {
    fc.assert(
      fc.property(topGroup, history, fc.integer({ min: 0, max: 3 * 86_400 }), (raw, h, later) => {
        const r = rules(raw);
        const sources = candidateSources(r);
        if (sources === 'everyone' || hasSource(sources, h, NOW)) return;
        const now = evaluate(r, h, NOW);
        expect(now.member).toBe(false);
        // Time alone: at the moment the answer may flip, and at any moment after.
        for (const t of [now.changes_at, NOW + later].filter((x): x is number => x !== null))
          expect(evaluate(r, h, t).member).toBe(false);
      }),
      { numRuns: 3_000 },
    );
  });
});
