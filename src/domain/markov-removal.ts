/**
 * The data-driven model's weights: Markov-chain removal effects (Anderl et al. 2016). Each
 * journey is a walk START → c1 → … → CONVERSION | NULL over channel states; a channel's
 * removal effect is the share of the probability of converting that is lost when every step
 * into it goes to NULL instead.
 */

/** A journey for the Markov model: channels in order, and whether it ended in a conversion. */
export interface Journey {
  channels: readonly string[];
  converted: boolean;
  /** How many journeys this one stands for (1; more when the journeys were sampled). */
  weight?: number;
}

/**
 * Most channel states one graph holds. The work is cubic in the states (one matrix inverse):
 * about 0.35 s at 500 and 2.7 s at 1,000 on a 2-core box (bench/markov-removal.mjs).
 * Channels are report keys (campaigns, source / medium pairs), and anyone can send an
 * impression naming a new campaign: without a bound, a report over thousands of them would
 * take hours and gigabytes.
 */
export const MARKOV_STATE_LIMIT = 1_000;
/**
 * The state the least-visited channels share when there are more than the limit; no report
 * key can be it (a NUL never reaches one), so no campaign named so is taken for it.
 */
export const OTHER_CHANNELS = '\u0000(other channels)';

/** Removal effects, per channel and per state, and how many channels share OTHER_CHANNELS. */
export interface RemovalEffects {
  /** Per channel: a merged channel has its state's. */
  effects: Map<string, number>;
  /** The state of each channel: itself, or OTHER_CHANNELS. */
  stateOf: Map<string, string>;
  /**
   * Per state. Credit is shared by state: the touches of a path in merged channels split
   * one effect between them, as the touches of one channel do, instead of each bringing it.
   */
  byState: Map<string, number>;
  /** Channels merged into OTHER_CHANNELS (0 when there are no effects at all). */
  merged: number;
}

/** Journeys read between two pauses of the steps (about 1 ms of work). */
const JOURNEYS_PER_STEP = 2_000;

const START = '(start)';
const CONV = '(conversion)';
const NULL = '(null)';

/**
 * The state of each channel: the `limit - 1` most visited keep their own (visits weighted,
 * ties by name so a report is the same every time), the rest share OTHER_CHANNELS.
 */
function* statesOf(
  journeys: readonly Journey[],
  limit: number,
): Generator<void, Map<string, string>> {
  const visits = new Map<string, number>();
  for (let i = 0; i < journeys.length; i++) {
    const j = journeys[i];
    for (const c of j.channels) visits.set(c, (visits.get(c) ?? 0) + (j.weight ?? 1));
    if ((i + 1) % JOURNEYS_PER_STEP === 0) yield;
  }
  const channels = [...visits.keys()];
  if (channels.length <= limit) return new Map(channels.map((c) => [c, c]));
  channels.sort(
    (a, b) => (visits.get(b) as number) - (visits.get(a) as number) || (a < b ? -1 : 1),
  );
  return new Map(channels.map((c, i) => [c, i < limit - 1 ? c : OTHER_CHANNELS]));
}

/** First-order transition counts START → c1 → … → CONV | NULL, channels as their states. */
function* transitions(
  journeys: readonly Journey[],
  stateOf: ReadonlyMap<string, string>,
): Generator<void, Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>([[START, new Map()]]);
  const add = (from: string, to: string, w: number) => {
    const row = out.get(from) ?? new Map<string, number>();
    row.set(to, (row.get(to) ?? 0) + w);
    out.set(from, row);
  };
  for (let i = 0; i < journeys.length; i++) {
    const j = journeys[i];
    if ((i + 1) % JOURNEYS_PER_STEP === 0) yield;
    if (j.channels.length === 0) continue;
    const w = j.weight ?? 1;
    let from = START;
    for (const c of j.channels) {
      const to = stateOf.get(c) as string;
      add(from, to, w);
      from = to;
    }
    add(from, j.converted ? CONV : NULL, w);
  }
  return out;
}

/**
 * The inverse of `a` (n×n, row-major), by Gauss-Jordan elimination with partial pivoting,
 * skipping the zero entries a sparse graph leaves. Yields after each pivot column so the caller
 * can pause; `a` is destroyed.
 */
function* inverse(a: Float64Array, n: number): Generator<void, Float64Array> {
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  const swap = (m: Float64Array, r1: number, r2: number) => {
    for (let c = 0; c < n; c++) {
      const t = m[r1 * n + c];
      m[r1 * n + c] = m[r2 * n + c];
      m[r2 * n + c] = t;
    }
  };
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++)
      if (Math.abs(a[r * n + col]) > Math.abs(a[pivot * n + col])) pivot = r;
    if (pivot !== col) {
      swap(a, col, pivot);
      swap(inv, col, pivot);
    }
    const p = a[col * n + col];
    // Every state reaches NULL or CONV (the last channel of each journey steps there), so
    // I − Q is never singular; the guard keeps a degenerate input from dividing by zero.
    if (Math.abs(p) < 1e-15) continue;
    const cr = col * n;
    for (let c = col; c < n; c++) a[cr + c] /= p;
    for (let c = 0; c < n; c++) inv[cr + c] /= p;
    for (let r = 0; r < n; r++) {
      const rr = r * n;
      const f = a[rr + col];
      if (r === col || f === 0) continue;
      for (let c = col; c < n; c++) a[rr + c] -= f * a[cr + c];
      for (let c = 0; c < n; c++) {
        const v = inv[cr + c];
        if (v !== 0) inv[rr + c] -= f * v;
      }
    }
    yield;
  }
  return inv;
}

/**
 * Removal effect per channel, with one matrix inverse instead of one linear solve per
 * channel. With N = (I − Q)⁻¹ over the transient states (START and the channels) and x the
 * probability of converting from each state (x = N·b, b the steps into CONV):
 *   P(convert) = P(convert without visiting k) + P(visit k) · x_k, and P(visit k) = N_Sk / N_kk,
 * so the effect of k, 1 − P(convert without k) / P(convert), is N_Sk · x_k / (N_kk · x_S).
 * Loops between channels are handled exactly. Yields while it works (see `inverse`).
 */
export function* removalEffectSteps(
  journeys: readonly Journey[],
  limit = MARKOV_STATE_LIMIT,
): Generator<void, RemovalEffects> {
  const stateOf = yield* statesOf(journeys, limit);
  const graph = yield* transitions(journeys, stateOf);
  const states = [...graph.keys()];
  const index = new Map(states.map((s, i) => [s, i]));
  const n = states.length;
  const a = new Float64Array(n * n);
  const b = new Float64Array(n);
  states.forEach((s, i) => {
    const row = graph.get(s) as Map<string, number>;
    let total = 0;
    for (const w of row.values()) total += w;
    a[i * n + i] += 1;
    for (const [to, w] of row) {
      if (to === CONV) b[i] += w / total;
      else if (to !== NULL) a[i * n + (index.get(to) as number)] -= w / total;
    }
  });
  const inv = yield* inverse(a, n);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += inv[i * n + j] * b[j];
    x[i] = sum;
  }
  const s = index.get(START) as number;
  const effects = new Map<string, number>();
  const byState = new Map<string, number>();
  if (!(x[s] > 0)) return { effects, stateOf, byState, merged: 0 };
  for (const [st, k] of index) {
    if (st === START) continue;
    byState.set(st, (inv[s * n + k] * x[k]) / (inv[k * n + k] * x[s]));
  }
  for (const [channel, st] of stateOf) effects.set(channel, byState.get(st) as number);
  const merged = [...stateOf.values()].filter((st) => st === OTHER_CHANNELS).length;
  return { effects, stateOf, byState, merged };
}

/** Runs the steps to the end, without pausing. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Removal effect per channel, computed in one go (see removalEffectSteps). */
export function removalEffects(
  journeys: readonly Journey[],
  limit = MARKOV_STATE_LIMIT,
): Map<string, number> {
  return runSteps(removalEffectSteps(journeys, limit)).effects;
}
