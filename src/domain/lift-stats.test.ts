import { describe, expect, it } from 'vitest';
import { compareProportions } from './lift-proportions.js';
import { addTo, compareMeans, MIN_CONVERTERS, type Moments, noMoments } from './lift-stats.js';

const rate = (x: number, n: number) => ({ x, n });

/** A group of `n` people, the first `converters` of them with `value`, the rest 0. */
function group(n: number, converters: number, value = 1): Moments {
  const m = noMoments();
  for (let i = 0; i < n; i++) addTo(m, i < converters ? value : 0);
  return m;
}

/** C(n, k) p^k (1 − p)^(n − k), by logs: exact enough for the coverage sums below. */
function binomialPmf(k: number, n: number, p: number): number {
  let log = 0;
  for (let i = 1; i <= k; i++) log += Math.log((n - k + i) / i);
  if (p === 0) return k === 0 ? 1 : 0;
  if (p === 1) return k === n ? 1 : 0;
  return Math.exp(log + k * Math.log(p) + (n - k) * Math.log(1 - p));
}

describe('lift statistics on a conversion rate (two proportions)', () => {
  it('LS03 2 of 2 against 0 of 2 is not a certainty: a wide interval and p = 1/3', () => {
    const r = compareProportions(rate(2, 2), rate(0, 2));
    expect(r.absolute).toBe(1);
    // Newcombe's interval from Wilson's (SciPy 1.17 binomtest(...).proportion_ci('wilson')
    // for each group, combined as Newcombe 1998 method 10): 0.0700 to 1.
    expect(r.absolute_ci?.[0]).toBeCloseTo(0.07, 4);
    expect(r.absolute_ci?.[1]).toBeCloseTo(1, 6);
    // Fisher's exact test, two-sided: SciPy fisher_exact([[2, 0], [0, 2]]) = 0.3333.
    expect(r.p_value).toBeCloseTo(1 / 3, 6);
    expect(r.relative).toBeNull();
    expect(r.note).toMatch(/no held-out person converted/);
  });

  it('LS04 0 of 10 against 0 of 10 leaves ±28 points open, not [0, 0]', () => {
    const r = compareProportions(rate(0, 10), rate(0, 10));
    expect(r.absolute).toBe(0);
    expect(r.absolute_ci?.[0]).toBeCloseTo(-0.2775, 4);
    expect(r.absolute_ci?.[1]).toBeCloseTo(0.2775, 4);
    expect(r.p_value).toBeCloseTo(1, 9);
  });

  it("LS05 the interval is Newcombe's hybrid score interval (his 1998 paper's examples)", () => {
    // Newcombe, Statistics in Medicine 17:873-890 (1998), table II, method 10.
    const cases: Array<[number, number, number, number, number, number]> = [
      [56, 70, 48, 80, 0.0524, 0.3339],
      [9, 10, 3, 10, 0.1705, 0.809],
      [5, 56, 0, 29, -0.0381, 0.1926],
      [0, 10, 0, 20, -0.1611, 0.2775],
      [10, 10, 0, 20, 0.6791, 1],
    ];
    for (const [xe, ne, xh, nh, lo, hi] of cases) {
      const ci = compareProportions(rate(xe, ne), rate(xh, nh)).absolute_ci;
      expect(ci?.[0], `${xe}/${ne} − ${xh}/${nh}`).toBeCloseTo(lo, 4);
      expect(ci?.[1], `${xe}/${ne} − ${xh}/${nh}`).toBeCloseTo(hi, 4);
    }
  });

  it("LS06 p: Fisher's exact test where an expected count is under 5, else Pearson's chi-square", () => {
    // SciPy 1.17: fisher_exact for the small tables, chi2_contingency(correction=False).
    expect(compareProportions(rate(3, 10), rate(0, 10)).p_value).toBeCloseTo(0.2105263, 6);
    expect(compareProportions(rate(1, 10), rate(6, 10)).p_value).toBeCloseTo(0.0572755, 6);
    expect(compareProportions(rate(56, 70), rate(48, 80)).p_value).toBeCloseTo(0.0080451, 6);
    expect(compareProportions(rate(300, 2000), rate(60, 600)).p_value).toBeCloseTo(0.0018703, 6);
  });

  it('LS07 the intervals cover the truth in at least 93 % of outcomes, computed exactly', () => {
    // Every outcome of two binomial groups weighed by its probability, where a Wald or Welch
    // interval falls far below 95 %: tiny and lopsided groups, rates near 0.
    const coverage = (ne: number, nh: number, pe: number, ph: number) => {
      let absolute = 0;
      let relative = 0;
      let defined = 0;
      for (let xe = 0; xe <= ne; xe++)
        for (let xh = 0; xh <= nh; xh++) {
          const w = binomialPmf(xe, ne, pe) * binomialPmf(xh, nh, ph);
          const r = compareProportions(rate(xe, ne), rate(xh, nh));
          const [lo, hi] = r.absolute_ci as [number, number];
          if (lo <= pe - ph && pe - ph <= hi) absolute += w;
          if (r.relative_ci === null) continue;
          defined += w;
          if (r.relative_ci[0] <= pe / ph - 1 && pe / ph - 1 <= r.relative_ci[1]) relative += w;
        }
      return { absolute, relative: relative / defined };
    };
    for (const [ne, nh, pe, ph] of [
      [2, 2, 0.5, 0.3],
      [20, 5, 0.13, 0.1],
      [40, 12, 0.05, 0.05],
      [10, 10, 0.3, 0.2],
    ])
      expect(coverage(ne, nh, pe, ph).absolute, `${ne}, ${nh}`).toBeGreaterThanOrEqual(0.93);
    // The ratio has no interval while no held-out person converted: its coverage is read
    // where that is rare, or the outcomes left would be the lucky ones.
    for (const [ne, nh, pe, ph] of [
      [10, 10, 0.3, 0.2],
      [30, 30, 0.2, 0.2],
      [60, 20, 0.3, 0.2],
      [100, 25, 0.13, 0.1],
    ])
      expect(coverage(ne, nh, pe, ph).relative, `${ne}, ${nh}`).toBeGreaterThanOrEqual(0.93);
  });
});

describe('lift statistics on a per-person mean', () => {
  it(`LS08 fewer than ${MIN_CONVERTERS} converters in a group: no interval, and says why`, () => {
    const r = compareMeans(group(100, 30, 2), group(12, 3, 2));
    expect(r.absolute).toBeCloseTo(0.6 - 0.5, 9);
    expect(r.absolute_ci).toBeNull();
    expect(r.relative_ci).toBeNull();
    expect(r.p_value).toBeNull();
    expect(r.note).toBe(
      `not enough data: 3 held-out converters, at least ${MIN_CONVERTERS} in each group needed`,
    );
    expect(compareMeans(group(100, 30, 2), group(100, 10, 2)).absolute_ci).not.toBeNull();
  });

  it('LS09 everyone in both groups the same: no interval rather than a zero-width one', () => {
    const r = compareMeans(group(20, 20, 1), group(10, 10, 1));
    expect(r.absolute).toBe(0);
    expect(r.absolute_ci).toBeNull();
    expect(r.p_value).toBeNull();
    expect(r.note).toMatch(/^not enough data/);
  });
});
