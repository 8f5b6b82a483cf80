// Viewable impressions (issue 24): what the viewability tag (`/v.js`) reports of an ad, as the
// MRC counts it — at least 50 % of the ad's pixels in view for at least one continuous second
// (two for video). MRC Viewable Ad Impression Measurement Guidelines:
// https://www.mediaratingcouncil.org/sites/default/files/Standards/081815%20Viewable%20Ad%20Impression%20Guideline_v2.0_Final.pdf

/** Longest time to viewable a signal may state: a day (an ad left open in a tab). */
export const MAX_TIME_TO_VIEW_MS = 86_400_000;

/** Viewability as a touch carries it, merged over its signals. */
export interface TouchView {
  /** The tag could measure this ad (IntersectionObserver, a target to observe). */
  measurable: boolean;
  /** The MRC threshold was met. */
  viewable: boolean;
  /** From the tag's start until the threshold was met; null when it was not. */
  time_to_view_ms: number | null;
  /** The largest share of the ad's pixels seen in view, 0..1; null when unknown. */
  max_share: number | null;
  /** Measured as video (two continuous seconds). */
  video: boolean;
}

/**
 * One impression's viewability as stored: its signals merged (`impression_views`). Keyed by
 * destination too: impression ids are the ad server's, and two DSPs may use the same one.
 */
export interface ImpressionView extends TouchView {
  env_id: string;
  imp_id: string;
  dest_id: string;
  /** When its first signal arrived, and its latest (Unix ms). */
  first_ms: number;
  updated_ms: number;
}

/** What one signal states; absent fields state nothing. */
export interface ViewSignal {
  measurable?: boolean;
  viewable?: boolean;
  time_to_view_ms?: number;
  max_share?: number;
  video?: boolean;
}

export type ViewSignalResult = { ok: true; signal: ViewSignal } | { ok: false; reason: string };

function flag(v: string | undefined): boolean | undefined | null {
  if (v === undefined) return undefined;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return null;
}

/**
 * Reads a signal's fields (`measurable`, `viewable`, `ttv_ms`, `max_share`, `video`) from a
 * hit's parameters. A value that is not what the tag sends makes the whole signal unusable,
 * named by its field (`bad_ttv_ms`): a guess would be recorded as a measurement.
 */
export function parseViewSignal(get: (key: string) => string | undefined): ViewSignalResult {
  const signal: ViewSignal = {};
  for (const key of ['measurable', 'viewable', 'video'] as const) {
    const f = flag(get(key));
    if (f === null) return { ok: false, reason: `bad_${key}` };
    if (f !== undefined) signal[key] = f;
  }
  const ttv = get('ttv_ms');
  if (ttv !== undefined) {
    const n = /^\d{1,9}$/.test(ttv) ? Number(ttv) : Number.NaN;
    if (!(n <= MAX_TIME_TO_VIEW_MS)) return { ok: false, reason: 'bad_ttv_ms' };
    signal.time_to_view_ms = n;
  }
  const share = get('max_share');
  if (share !== undefined) {
    const n = /^(0(\.\d{1,4})?|1(\.0{1,4})?)$/.test(share) ? Number(share) : Number.NaN;
    if (!(n >= 0 && n <= 1)) return { ok: false, reason: 'bad_max_share' };
    signal.max_share = n;
  }
  // A viewable ad was measured: a signal saying otherwise contradicts itself.
  if (signal.viewable && signal.measurable === false) return { ok: false, reason: 'bad_viewable' };
  if (signal.time_to_view_ms !== undefined && !signal.viewable)
    return { ok: false, reason: 'bad_ttv_ms' };
  if (signal.measurable === undefined && signal.viewable === undefined)
    return { ok: false, reason: 'empty_signal' };
  return { ok: true, signal };
}

/** A signal as a stored row would hold it alone. */
export function viewOf(
  ids: Pick<ImpressionView, 'env_id' | 'imp_id' | 'dest_id'>,
  s: ViewSignal,
  now_ms: number,
): ImpressionView {
  const viewable = s.viewable === true;
  return {
    ...ids,
    measurable: viewable || s.measurable === true,
    viewable,
    time_to_view_ms: viewable ? (s.time_to_view_ms ?? null) : null,
    max_share: s.max_share ?? null,
    video: s.video === true,
    first_ms: now_ms,
    updated_ms: now_ms,
  };
}

const maxOf = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.max(a, b);
const minOf = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.min(a, b);

/**
 * Two rows of one impression as one, whatever order they came in: a flag once set stays set,
 * the earliest time to viewable and the largest share win. The store's upsert does the same.
 */
export function mergeViews(a: ImpressionView, b: ImpressionView): ImpressionView {
  return {
    env_id: a.env_id,
    imp_id: a.imp_id,
    dest_id: a.dest_id,
    measurable: a.measurable || b.measurable,
    viewable: a.viewable || b.viewable,
    time_to_view_ms: minOf(a.time_to_view_ms, b.time_to_view_ms),
    max_share: maxOf(a.max_share, b.max_share),
    video: a.video || b.video,
    first_ms: Math.min(a.first_ms, b.first_ms),
    updated_ms: Math.max(a.updated_ms, b.updated_ms),
  };
}

/** A batch with one row per impression (a store's upsert may touch a row only once). */
export function mergeViewBatch(views: readonly ImpressionView[]): ImpressionView[] {
  const by = new Map<string, ImpressionView>();
  for (const v of views) {
    const key = viewKey(v.env_id, v.dest_id, v.imp_id);
    const had = by.get(key);
    by.set(key, had ? mergeViews(had, v) : v);
  }
  return [...by.values()];
}

/** The touch's part of a stored row. */
export function touchViewOf(v: ImpressionView): TouchView {
  return {
    measurable: v.measurable,
    viewable: v.viewable,
    time_to_view_ms: v.time_to_view_ms,
    max_share: v.max_share,
    video: v.video,
  };
}

/** An impression's viewability as the API and the debugger show it. */
export interface Viewability extends TouchView {
  /** Every stored impression was served (the touch is only stored once it was). */
  served: true;
}

/**
 * The viewability of a touch read with its measurement: for an impression no tag measured,
 * not measurable and not viewable; null for a click or a visit.
 */
export function viewabilityOf(t: { kind: string; view?: TouchView }): Viewability | null {
  if (t.kind !== 'impression') return null;
  const v = t.view;
  return {
    served: true,
    measurable: v?.measurable ?? false,
    viewable: v?.viewable ?? false,
    time_to_view_ms: v?.time_to_view_ms ?? null,
    max_share: v?.max_share ?? null,
    video: v?.video ?? false,
  };
}

/**
 * Why an impression did not count as seen, in the debugger's words: `impression IMP-9 was
 * served but never viewable`, with what was measured.
 */
export function notViewableReason(imp_id: string, view: TouchView | undefined): string {
  const base = `impression ${imp_id} was served but never viewable`;
  if (!view) return `${base} (not measured: no viewability tag ran with it)`;
  if (!view.measurable) return `${base} (the tag could not measure it)`;
  if (view.max_share === null) return base;
  if (view.max_share >= 0.5)
    return `${base} (in view, but never for ${view.video ? 'two continuous seconds' : 'a continuous second'})`;
  return `${base} (at most ${Math.round(view.max_share * 100)} % of it in view)`;
}

/** The key of one impression's row: environment, destination and the ad server's id. */
export function viewKey(env_id: string, dest_id: string, imp_id: string): string {
  return `${env_id}\u0000${dest_id}\u0000${imp_id}`;
}
