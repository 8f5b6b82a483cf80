import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

// The statistics of a lift report on a per-person figure (conversions, revenue): the
// difference and the ratio of two groups' means, each with a confidence interval and a
// p-value, and how many people a given precision needs. The conversion rate, a proportion,
// has its own intervals and tests (lift-proportions.ts). The distributions (Student's t, the
// normal) come from stdlib's packages, not from code of ours.

/** A group's per-person figure, summed: enough for its mean and variance in one pass. */
export interface Moments {
  /** People in the group (each counts, with 0 when they did nothing). */
  n: number;
  sum: number;
  /** Sum of squares. */
  sum_sq: number;
  /** People whose figure is not 0: the converters. */
  nonzero: number;
}

/** Confidence level of every interval. */
export const CONFIDENCE = 0.95;
/** Power of the "people needed to detect the lift seen" figure. */
export const POWER = 0.8;
/**
 * Converters each group needs before a per-person mean gets an interval. A mean over mostly
 * zeros is as good as its few non-zero values: with a handful of them, one large order or
 * none decides the variance, and a t interval is confidently wrong (or zero-wide when they
 * happen to be equal). Ten is the usual success–failure condition of normal approximations.
 */
export const MIN_CONVERTERS = 10;

/** The comparison of exposed and holdout on one figure. */
export interface LiftEstimate {
  /** Per person. */
  exposed: number;
  holdout: number;
  /** exposed − holdout, per person. */
  absolute: number | null;
  absolute_ci: [number, number] | null;
  /** exposed / holdout − 1; null while the holdout's mean is 0. */
  relative: number | null;
  relative_ci: [number, number] | null;
  /** Two-sided, Welch's t-test of equal means. */
  p_value: number | null;
  /** The absolute lift times the exposed people: what the ads added in total. */
  incremental: number | null;
  /** Why an interval or the p-value is missing, in plain words; null when nothing is. */
  note: string | null;
}

const mean = (m: Moments) => (m.n > 0 ? m.sum / m.n : 0);

/** Unbiased sample variance; 0 for fewer than two people. */
export function variance(m: Moments): number {
  if (m.n < 2) return 0;
  return Math.max(0, (m.sum_sq - (m.sum * m.sum) / m.n) / (m.n - 1));
}

/** Adds a person's figure. */
export function addTo(m: Moments, x: number): void {
  m.n += 1;
  m.sum += x;
  m.sum_sq += x * x;
  if (x !== 0) m.nonzero += 1;
}

export const noMoments = (): Moments => ({ n: 0, sum: 0, sum_sq: 0, nonzero: 0 });

/**
 * Welch–Satterthwaite degrees of freedom of the difference of two means; the exact
 * two-sample t when the variances are equal and the sizes too. Infinite when one group's
 * share of the variance is all there is and the other has no variance (large-sample limit).
 */
function welchDf(ve: number, ne: number, vh: number, nh: number): number {
  const a = ve / ne;
  const b = vh / nh;
  const den = (a * a) / (ne - 1) + (b * b) / (nh - 1);
  return den > 0 ? ((a + b) * (a + b)) / den : Number.POSITIVE_INFINITY;
}

/** The t quantile of the interval, the normal one when the df are unbounded. */
function criticalValue(df: number): number {
  const q = (1 + CONFIDENCE) / 2;
  return Number.isFinite(df) ? tQuantile(q, df) : normalQuantile(q, 0, 1);
}

/** Why a per-person comparison has no interval, or null when it has one. */
function notEnough(exposed: Moments, holdout: Moments, min_nonzero: number): string | null {
  const few = (m: Moments, who: string) =>
    m.nonzero < min_nonzero ? `${m.nonzero} ${who} converter${m.nonzero === 1 ? '' : 's'}` : null;
  const which = [few(exposed, 'exposed'), few(holdout, 'held-out')].filter((x) => x !== null);
  if (which.length === 0) return null;
  return `not enough data: ${which.join(' and ')}, at least ${min_nonzero} in each group needed`;
}

/**
 * Exposed against holdout on a per-person figure. The absolute lift's interval and the
 * p-value are Welch's (unequal variances: the groups differ in size and, when the ads work,
 * in spread). The relative lift's interval is the delta method on the log of the ratio, so it
 * stays above −100 % and is asymmetric as a ratio's should be. The means and the lift are
 * always given; the intervals and the p-value only with `min_nonzero` converters in each
 * group and some spread, else null with the reason in `note`.
 */
export function compareMeans(
  exposed: Moments,
  holdout: Moments,
  min_nonzero = MIN_CONVERTERS,
): LiftEstimate {
  const me = mean(exposed);
  const mh = mean(holdout);
  const out: LiftEstimate = {
    exposed: me,
    holdout: mh,
    absolute: null,
    absolute_ci: null,
    relative: null,
    relative_ci: null,
    p_value: null,
    incremental: null,
    note: null,
  };
  if (exposed.n < 2 || holdout.n < 2) {
    out.note = 'not enough data: fewer than two people in a group';
    return out;
  }
  const diff = me - mh;
  out.absolute = diff;
  out.incremental = diff * exposed.n;
  if (mh > 0) out.relative = me / mh - 1;
  out.note = notEnough(exposed, holdout, min_nonzero);
  if (out.note !== null) return out;
  const ve = variance(exposed);
  const vh = variance(holdout);
  const se = Math.sqrt(ve / exposed.n + vh / holdout.n);
  if (se === 0) {
    out.note = 'not enough data: every person in both groups has the same figure';
    return out;
  }
  const df = welchDf(ve, exposed.n, vh, holdout.n);
  const q = criticalValue(df);
  out.absolute_ci = [diff - q * se, diff + q * se];
  // se > 0, so at least one group varies and df is finite.
  out.p_value = Math.min(1, 2 * tCdf(-Math.abs(diff) / se, df));
  if (mh > 0 && me > 0) {
    // Var(log x̄) ≈ Var(x)/(n x̄²) (delta method), the two groups independent.
    const a = ve / (exposed.n * me * me);
    const b = vh / (holdout.n * mh * mh);
    const seLog = Math.sqrt(a + b);
    const qr = criticalValue(welchDf(ve / (me * me), exposed.n, vh / (mh * mh), holdout.n));
    const log = Math.log(me / mh);
    out.relative_ci = [Math.exp(log - qr * seLog) - 1, Math.exp(log + qr * seLog) - 1];
  }
  return out;
}

/** People needed in total (both groups) for a figure, and how many more than now. */
export interface PeopleNeeded {
  /** Half-width asked of the relative lift's interval: 0.05 is ±5 percentage points. */
  precision: number;
  /** Everyone, both groups, split by the holdout's fraction; null when it cannot be told. */
  for_precision: number | null;
  /** Everyone needed to detect the absolute lift seen now with POWER at 1 − CONFIDENCE. */
  for_power: number | null;
  /** for_precision minus the people there are (0 once reached). */
  more_for_precision: number | null;
}

/**
 * The sample size of a two-group comparison with a `fraction` held out. Precision: the
 * relative lift's 95 % interval (delta method, as compareMeans) is ±precision when
 * z² (1+L)² (cv_e²/(1−f) + cv_h²/f) / N = precision², with cv² = variance / mean² of each
 * group. Power: N = (z_{1−α/2} + z_power)² (v_e/(1−f) + v_h/f) / Δ². Variances and means
 * come from the data so far; a group with no conversions yet borrows the pooled mean and
 * variance, and with none at all nothing can be said (null).
 */
export function peopleNeeded(
  exposed: Moments,
  holdout: Moments,
  fraction: number,
  precision: number,
): PeopleNeeded {
  const out: PeopleNeeded = {
    precision,
    for_precision: null,
    for_power: null,
    more_for_precision: null,
  };
  const pooled: Moments = {
    n: exposed.n + holdout.n,
    sum: exposed.sum + holdout.sum,
    sum_sq: exposed.sum_sq + holdout.sum_sq,
    nonzero: exposed.nonzero + holdout.nonzero,
  };
  if (pooled.n < 2 || pooled.sum <= 0) return out;
  const usable = (m: Moments) => (m.n >= 2 && m.sum > 0 ? m : pooled);
  const e = usable(exposed);
  const h = usable(holdout);
  const me = mean(e);
  const mh = mean(h);
  const ve = variance(e);
  const vh = variance(h);
  const z = normalQuantile((1 + CONFIDENCE) / 2, 0, 1);
  const ratio = me / mh;
  const cv2 = ve / (me * me) / (1 - fraction) + vh / (mh * mh) / fraction;
  out.for_precision = Math.ceil((z * z * ratio * ratio * cv2) / (precision * precision));
  out.more_for_precision = Math.max(0, out.for_precision - (exposed.n + holdout.n));
  const delta = mean(exposed) - mean(holdout);
  if (exposed.n >= 2 && holdout.n >= 2 && delta !== 0) {
    const zp = normalQuantile(POWER, 0, 1);
    out.for_power = Math.ceil(
      ((z + zp) ** 2 * (ve / (1 - fraction) + vh / fraction)) / (delta * delta),
    );
  }
  return out;
}
