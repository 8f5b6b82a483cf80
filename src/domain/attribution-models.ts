import { cameAfter } from './clock-skew.js';
import type { TouchKind } from './event.js';
import type { Journey } from './markov-removal.js';
import type { TrafficSource } from './traffic-source.js';

export { type Journey, removalEffects } from './markov-removal.js';

/** The multi-touch models of the attribution report (issue 9). */
export const ATTRIBUTION_MODELS = [
  'last_touch',
  'first_touch',
  'linear',
  'time_decay',
  'position_based',
  'data_driven',
] as const;
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

/** Default half-life of the time-decay model: 7 days, in seconds. */
export const DEFAULT_HALF_LIFE_S = 7 * 86_400;
/** Position based: the first and the last touch take 40 % each, the middle shares 20 %. */
const POSITION_END_SHARE = 0.4;
/** The channel of touches that name no campaign. */
export const NO_CAMPAIGN = '(none)';

/** One touch on a conversion path. */
export interface PathTouch {
  kind: TouchKind;
  campaign_id: string | null;
  /** Unix seconds. */
  time: number;
  /** The destination that served an ad touch (reports read its channel from its type). */
  dest_id?: string | null;
  /** A visit's source (issue 23). */
  traffic_source?: TrafficSource;
}

/** A conversion with the touches that led to it. */
export interface ConversionPath {
  /** Unix seconds. */
  time: number;
  value: number;
  touches: readonly PathTouch[];
}

/** Credit one touch of a path receives; the credits of one conversion sum to its value. */
export interface TouchCredit {
  /** Index into the in-window touches, sorted oldest first. */
  index: number;
  touch: PathTouch;
  /** Fraction of the conversion, 0..1. */
  share: number;
  /** share × value. */
  credit: number;
}

export interface ModelOptions {
  /** Touches older than this before the conversion are not on its path. */
  lookback_s: number;
  half_life_s?: number;
  /** Removal effect per channel, for `data_driven` (see removalEffects). */
  removal_effects?: ReadonlyMap<string, number>;
  /**
   * The state a touch is in the Markov graph of `data_driven`: its campaign (channelOf) unless
   * a report groups by channel or source / medium (issue 23).
   */
  key_of?: (t: PathTouch) => string;
}

/** The campaign a touch counts for in reports and in the Markov graph. */
export function channelOf(t: PathTouch): string {
  return t.campaign_id ?? NO_CAMPAIGN;
}

/** Touches inside the lookback window before the conversion, oldest first (stable). */
export function touchesInWindow(path: ConversionPath, lookback_s: number): PathTouch[] {
  return path.touches
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => path.time - t.time < lookback_s && !cameAfter(t.time, path.time))
    .sort((a, b) => a.t.time - b.t.time || a.i - b.i)
    .map(({ t }) => t);
}

/** Equal shares over the given indexes. */
function split(n: number, indexes: readonly number[]): number[] {
  const shares = new Array<number>(n).fill(0);
  for (const i of indexes) shares[i] = 1 / indexes.length;
  return shares;
}

/** Indexes of the touches that tie at the extreme time of `pick` among `candidates`. */
function tiedAt(touches: readonly PathTouch[], candidates: number[], last: boolean): number[] {
  const times = candidates.map((i) => touches[i].time);
  const at = last ? Math.max(...times) : Math.min(...times);
  return candidates.filter((i) => touches[i].time === at);
}

/**
 * Shares per touch (same order as `touches`), summing to 1, for every model but
 * data-driven. Touches at the same instant that would each be "the" first or last share
 * that credit equally rather than being ordered by accident of arrival.
 */
function ruleShares(
  model: Exclude<AttributionModel, 'data_driven'>,
  touches: readonly PathTouch[],
  convTime: number,
  halfLife: number,
): number[] {
  const n = touches.length;
  const all = touches.map((_, i) => i);
  switch (model) {
    case 'last_touch': {
      // As delivery does (DESIGN §6): a click beats any impression, then the latest wins. A
      // visit is a click on the site's side (GA4's last click counts visits alike).
      const clicks = all.filter((i) => touches[i].kind !== 'impression');
      return split(n, tiedAt(touches, clicks.length > 0 ? clicks : all, true));
    }
    case 'first_touch':
      return split(n, tiedAt(touches, all, false));
    case 'linear':
      return split(n, all);
    case 'time_decay': {
      const w = touches.map((t) => 2 ** (-Math.max(0, convTime - t.time) / halfLife));
      const sum = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / sum);
    }
    case 'position_based': {
      if (n <= 2) return split(n, all);
      const shares = new Array<number>(n).fill((1 - 2 * POSITION_END_SHARE) / (n - 2));
      shares[0] = POSITION_END_SHARE;
      shares[n - 1] = POSITION_END_SHARE;
      return shares;
    }
  }
}

/**
 * Data-driven shares: each touch's channel weighs its removal effect, divided among that
 * channel's touches on this path; a path whose channels all have no effect falls back to
 * linear, so every conversion is still fully credited.
 */
function dataDrivenShares(
  touches: readonly PathTouch[],
  effects: ReadonlyMap<string, number>,
  channelOf: (t: PathTouch) => string,
) {
  const perChannel = new Map<string, number>();
  for (const t of touches) perChannel.set(channelOf(t), (perChannel.get(channelOf(t)) ?? 0) + 1);
  const channelTotal = [...perChannel.keys()].reduce((a, c) => a + (effects.get(c) ?? 0), 0);
  if (channelTotal <= 0)
    return split(
      touches.length,
      touches.map((_, i) => i),
    );
  return touches.map(
    (t) => (effects.get(channelOf(t)) ?? 0) / channelTotal / (perChannel.get(channelOf(t)) ?? 1),
  );
}

/**
 * Credits one conversion under one model. An empty list means no touch was inside the
 * lookback window (the conversion is unattributed). The last credit takes the remainder, so
 * the credits sum to the value exactly as floating point adds them up.
 */
export function creditPath(
  model: AttributionModel,
  path: ConversionPath,
  opts: ModelOptions,
): TouchCredit[] {
  const touches = touchesInWindow(path, opts.lookback_s);
  if (touches.length === 0) return [];
  const shares =
    model === 'data_driven'
      ? dataDrivenShares(touches, opts.removal_effects ?? new Map(), opts.key_of ?? channelOf)
      : ruleShares(model, touches, path.time, opts.half_life_s ?? DEFAULT_HALF_LIFE_S);
  const out: TouchCredit[] = [];
  let given = 0;
  const lastNonZero = shares.reduce((last, s, i) => (s > 0 ? i : last), -1);
  shares.forEach((share, index) => {
    if (share <= 0) return;
    const credit = index === lastNonZero ? path.value - given : share * path.value;
    given += credit;
    out.push({ index, touch: touches[index], share, credit });
  });
  return out;
}

/** The journey a conversion path makes in the Markov graph. */
export function journeyOf(
  path: ConversionPath,
  lookback_s: number,
  keyOf: (t: PathTouch) => string = channelOf,
): Journey {
  return { channels: touchesInWindow(path, lookback_s).map(keyOf), converted: true };
}
