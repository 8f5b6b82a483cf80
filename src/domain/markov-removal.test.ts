import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Journey,
  OTHER_CHANNELS,
  removalEffectSteps,
  removalEffects,
  runSteps,
} from './markov-removal.js';

/**
 * The reference: the removal effect as its definition reads, one linear solve per channel.
 * P(convert) over the chain, then again with every step into the channel sent to NULL; the
 * effect is 1 − the second / the first. Written from the definition, not from the module.
 */
function referenceEffects(journeys: readonly Journey[]): Map<string, number> {
  const counts = new Map<string, Map<string, number>>();
  for (const j of journeys) {
    if (j.channels.length === 0) continue;
    const seq = ['S', ...j.channels.map((c) => `c:${c}`), j.converted ? 'CONV' : 'NULL'];
    for (let i = 0; i + 1 < seq.length; i++) {
      const row = counts.get(seq[i]) ?? new Map<string, number>();
      row.set(seq[i + 1], (row.get(seq[i + 1]) ?? 0) + (j.weight ?? 1));
      counts.set(seq[i], row);
    }
  }
  const probability = (removed: string | null): number => {
    const states = [...counts.keys()].filter((s) => s !== removed);
    const at = new Map(states.map((s, i) => [s, i]));
    const n = states.length;
    const m = states.map((s, i) => {
      const row = new Array<number>(n + 1).fill(0);
      const out = counts.get(s) as Map<string, number>;
      const total = [...out.values()].reduce((a, b) => a + b, 0);
      row[i] = 1;
      for (const [to, w] of out) {
        if (to === 'CONV') row[n] += w / total;
        else if (to !== 'NULL' && to !== removed) row[at.get(to) as number] -= w / total;
      }
      return row;
    });
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
      [m[c], m[p]] = [m[p], m[c]];
      const d = m[c][c];
      for (let k = c; k <= n; k++) m[c][k] /= d;
      for (let r = 0; r < n; r++) {
        if (r === c) continue;
        const f = m[r][c];
        for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
      }
    }
    const s = at.get('S');
    return s === undefined ? 0 : m[s][n];
  };
  const base = probability(null);
  const out = new Map<string, number>();
  if (base <= 0) return out;
  for (const s of counts.keys()) if (s !== 'S') out.set(s.slice(2), 1 - probability(s) / base);
  return out;
}

const journeyArb = fc.record({
  channels: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), {
    minLength: 0,
    maxLength: 6,
  }),
  converted: fc.boolean(),
  weight: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
});

describe('Markov removal effects', () => {
  it('MR01 match one solve per channel on random journeys (loops, repeats, weights)', () => {
    fc.assert(
      fc.property(fc.array(journeyArb, { minLength: 1, maxLength: 40 }), (journeys) => {
        const want = referenceEffects(journeys);
        const got = removalEffects(journeys);
        expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [c, e] of want) expect(got.get(c)).toBeCloseTo(e, 9);
      }),
      { numRuns: 300 },
    );
  });

  it('MR02 a graph over the limit merges the least-visited channels into one state', () => {
    const journeys: Journey[] = [
      { channels: ['a', 'a', 'b'], converted: true },
      { channels: ['b', 'c'], converted: false },
      { channels: ['a', 'd'], converted: true },
      { channels: ['c', 'a'], converted: true },
    ];
    // Visits: a 4, b 2, c 2, d 1: with 3 states, a and b keep theirs (b before c by name).
    const r = runSteps(removalEffectSteps(journeys, 3));
    expect(r.merged).toBe(2);
    const merged = journeys.map((j) => ({
      ...j,
      channels: j.channels.map((c) => (c === 'c' || c === 'd' ? OTHER_CHANNELS : c)),
    }));
    const want = referenceEffects(merged);
    expect(r.effects.get('a')).toBeCloseTo(want.get('a') as number, 12);
    expect(r.effects.get('b')).toBeCloseTo(want.get('b') as number, 12);
    expect(r.effects.get('c')).toBeCloseTo(want.get(OTHER_CHANNELS) as number, 12);
    expect(r.effects.get('d')).toBe(r.effects.get('c'));
    expect(r.effects.has(OTHER_CHANNELS)).toBe(false);
  });

  it('MR03 under the limit nothing is merged, and the steps pause once per state', () => {
    const journeys = Array.from({ length: 50 }, (_, i) => ({
      channels: [`k${i}`, `k${(i * 7) % 50}`],
      converted: i % 3 === 0,
    }));
    const steps = removalEffectSteps(journeys);
    let pauses = 0;
    let r = steps.next();
    while (!r.done) {
      pauses++;
      r = steps.next();
    }
    expect(r.value.merged).toBe(0);
    expect(r.value.effects.size).toBe(50);
    // START and the 50 channels: one pause per pivot column.
    expect(pauses).toBe(51);
  });

  it('MR04 no conversion anywhere: no effects', () => {
    expect(removalEffects([{ channels: ['a', 'b'], converted: false }]).size).toBe(0);
    expect(removalEffects([]).size).toBe(0);
  });
});
