import type { Touch } from '../domain/event.js';
import {
  journeyPerson,
  type NonConvertingPath,
  nonConvertingJourneys,
  personShare,
} from '../domain/journeys.js';
import type { ConversionPathRecord, Store } from '../store/store.js';

/** Touches kept in memory for non-converting journeys at most; past it, people are sampled. */
export const MAX_JOURNEY_TOUCHES = 1_000_000;
/** Touches read per query. */
const TOUCH_PAGE = 5_000;

/** The non-converting journeys of a range, and how they were read. */
export interface NonConvertingRead {
  journeys: NonConvertingPath[];
  /** Human touches of the range. */
  touches: number;
  /** Share of people read (1: everyone); each journey weighs 1 / sample. */
  sample: number;
}

/**
 * The journeys of [from_s, to_s) that ended in no conversion, for the data-driven model:
 * every human touch of the range that is on no conversion path, neither of the range's
 * conversions (`paths`) nor of those up to a window after it (a touch near the end may still
 * convert after `to`). Split by person and by the widest window of the paths. Past
 * MAX_JOURNEY_TOUCHES a stable share of people is read, so time and memory stay bounded and
 * linear in the touches read.
 */
export async function nonConvertingPaths(
  store: Pick<Store, 'listConversionPaths' | 'countJourneyTouches' | 'journeyTouches'>,
  env_id: string,
  paths: readonly ConversionPathRecord[],
  from_s: number,
  to_s: number,
): Promise<NonConvertingRead> {
  const lookback = paths.reduce((m, p) => Math.max(m, p.lookback_s), 0);
  if (lookback === 0) return { journeys: [], touches: 0, sample: 1 };
  const later = await store.listConversionPaths(env_id, to_s, to_s + lookback);
  const converted = new Set<string>();
  for (const p of [...paths, ...later]) for (const t of p.touches) converted.add(t.touch_id);
  const total = await store.countJourneyTouches(env_id, from_s, to_s);
  const sample = total > MAX_JOURNEY_TOUCHES ? MAX_JOURNEY_TOUCHES / total : 1;
  const touches: Touch[] = [];
  let after = null;
  do {
    const page = await store.journeyTouches(env_id, from_s, to_s, after, TOUCH_PAGE);
    for (const t of page.touches) {
      const person = journeyPerson(t);
      if (sample === 1 || (person !== null && personShare(person) < sample)) touches.push(t);
    }
    after = page.next;
  } while (after);
  return {
    journeys: nonConvertingJourneys(touches, converted, lookback, sample),
    touches: total,
    sample,
  };
}
