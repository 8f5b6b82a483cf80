import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import hypergeometricPmf from '@stdlib/stats-base-dists-hypergeometric-pmf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { CONFIDENCE, type LiftEstimate } from './lift-stats.js';

// The conversion rate of a lift report is a proportion (converters among people), and
// intervals for a proportion built like a mean's (Wald's, Welch's) collapse on small or
// all-or-nothing groups: 2 of 2 against 0 of 2 gave [1, 1] and p = 0. These are the score
// intervals and the exact test made for two independent proportions instead. No maintained
// JavaScript package computes them (stdlib's chi2test installs a dependency from a git
// repository the registry cannot serve); the distributions are stdlib's, the formulas cited.

/** Converters `x` among `n` people. */
export interface Proportion {
  x: number;
  n: number;
}

/**
 * The smallest expected count of the 2×2 table under which the p-value is Fisher's exact
 * test rather than Pearson's chi-square (Cochran's rule: the chi-square distribution is a
 * poor approximation below 5).
 */
export const MIN_EXPECTED_COUNT = 5;

/** Relative tolerance when comparing table probabilities, as R's fisher.test. */
const FISHER_TIE = 1 + 1e-7;

/**
 * Wilson's score interval of one proportion (Wilson 1927): inside [0, 1] and never
 * zero-wide, so 0 of 10 is "0 to 28 %", not "exactly 0".
 */
function wilson({ x, n }: Proportion, z: number): [number, number] {
  const z2 = z * z;
  const center = (x + z2 / 2) / (n + z2);
  const half = (z * Math.sqrt((x * (n - x)) / n + z2 / 4)) / (n + z2);
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/**
 * Fisher's exact test, two-sided: the probability, given both margins, of a table no more
 * likely than the one seen (the hypergeometric distribution of the exposed converters). The
 * sum runs over the table's possible counts, fewer than √(5 N) where it is used.
 */
function fisherExact(e: Proportion, h: Proportion): number {
  const people = e.n + h.n;
  const converters = e.x + h.x;
  const seen = hypergeometricPmf(e.x, people, converters, e.n) * FISHER_TIE;
  let p = 0;
  const last = Math.min(e.n, converters);
  for (let k = Math.max(0, converters - h.n); k <= last; k++) {
    const pk = hypergeometricPmf(k, people, converters, e.n);
    if (pk <= seen) p += pk;
  }
  return Math.min(1, p);
}

/** Two-sided p of equal proportions: Fisher's exact test on small tables, else Pearson's. */
function proportionsP(e: Proportion, h: Proportion): number {
  const people = e.n + h.n;
  const converters = e.x + h.x;
  const others = people - converters;
  const expected = (Math.min(e.n, h.n) * Math.min(converters, others)) / people;
  if (expected < MIN_EXPECTED_COUNT) return fisherExact(e, h);
  // Pearson's X² of the 2×2 table, 1 degree of freedom, without Yates' correction: the
  // correction only approximates Fisher's test, which small tables get exactly above; on
  // large ones it makes the test conservative and disagree with the interval.
  const cross = e.x * (h.n - h.x) - h.x * (e.n - e.x);
  const x2 = (people * cross * cross) / (e.n * h.n * converters * others);
  return 1 - chisquareCdf(x2, 1);
}

/**
 * Newcombe's hybrid score interval of pe − ph (Newcombe 1998, "Interval estimation for the
 * difference between independent proportions: comparison of eleven methods", Statistics in
 * Medicine 17:873-890, method 10), from each group's Wilson interval.
 */
function newcombe(pe: number, we: [number, number], ph: number, wh: [number, number]) {
  const d = pe - ph;
  return [
    d - Math.sqrt((pe - we[0]) ** 2 + (wh[1] - ph) ** 2),
    d + Math.sqrt((we[1] - pe) ** 2 + (ph - wh[0]) ** 2),
  ] as [number, number];
}

/**
 * MOVER-R interval of pe / ph from the same Wilson intervals (Zou & Donner 2008,
 * "Construction of confidence limits about effect measures: a general approach", Statistics
 * in Medicine 27:1693-1702; the ratio's limits are the roots of the quadratics below). Needs
 * ph > 0. A group of 0 converters gives a lower limit of 0 (−100 %), not a collapse.
 */
function moverRatio(pe: number, we: [number, number], ph: number, wh: [number, number]) {
  const [le, ue] = we;
  const [lh, uh] = wh;
  const b = pe * ph;
  const a = uh * (2 * ph - uh);
  const c = le * (2 * pe - le);
  // a = 0 (uh = 2 ph) leaves a linear equation; otherwise the root the interval's side wants.
  const lower = Math.abs(a) < 1e-15 ? c / (2 * b) : (b - Math.sqrt(Math.max(0, b * b - a * c))) / a;
  const a2 = lh * (2 * ph - lh);
  const c2 = ue * (2 * pe - ue);
  const upper = (b + Math.sqrt(Math.max(0, b * b - a2 * c2))) / a2;
  return [lower, upper] as [number, number];
}

/**
 * Exposed against holdout on the conversion rate: the rates, their difference with
 * Newcombe's interval, their ratio − 1 with the MOVER-R interval, and the p-value of equal
 * rates. Valid from one person a group; the ratio is null while no held-out person converted.
 */
export function compareProportions(exposed: Proportion, holdout: Proportion): LiftEstimate {
  const out: LiftEstimate = {
    exposed: exposed.n > 0 ? exposed.x / exposed.n : 0,
    holdout: holdout.n > 0 ? holdout.x / holdout.n : 0,
    absolute: null,
    absolute_ci: null,
    relative: null,
    relative_ci: null,
    p_value: null,
    incremental: null,
    note: null,
  };
  if (exposed.n === 0 || holdout.n === 0) {
    out.note = 'not enough data: no one in a group yet';
    return out;
  }
  const z = normalQuantile((1 + CONFIDENCE) / 2, 0, 1);
  const pe = out.exposed;
  const ph = out.holdout;
  const we = wilson(exposed, z);
  const wh = wilson(holdout, z);
  out.absolute = pe - ph;
  out.absolute_ci = newcombe(pe, we, ph, wh);
  out.incremental = out.absolute * exposed.n;
  out.p_value = proportionsP(exposed, holdout);
  if (holdout.x === 0) {
    out.note = 'no held-out person converted: the relative lift has no bound yet';
    return out;
  }
  out.relative = pe / ph - 1;
  const [lo, hi] = moverRatio(pe, we, ph, wh);
  out.relative_ci = [lo - 1, hi - 1];
  return out;
}
