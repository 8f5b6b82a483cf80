import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Journey } from '../domain/attribution-models.js';
import { type ChannelOf, JourneyBuilder } from '../domain/journeys.js';
import type { TouchCursor } from '../store/ports/journeys.js';
import type { ConversionPathRecord, Store } from '../store/store.js';

/**
 * Touches read for non-converting journeys at most. Past it the range's first touches stand
 * for all of them: the transition shares the model needs are well estimated from a few
 * hundred thousand touches, and time and memory stay bounded.
 */
export const MAX_JOURNEY_TOUCHES = 300_000;
/**
 * Touches read per query. A page is received, mapped and added to the journeys in one turn
 * of the event loop: 10,000 held it about 60 ms.
 */
const TOUCH_PAGE = 2_500;

/** The non-converting journeys of a range, and how they were read. */
export interface NonConvertingRead {
  /** Keyed by the `channelOf` given: one per distinct run of channels, weighing its journeys. */
  journeys: Journey[];
  /** Journeys that ended in no conversion, those that kept no channel included. */
  count: number;
  /** Human touches read. */
  touches: number;
  /** Share of the range's touches read (1: all); each journey weighs 1 / sample. */
  sample: number;
}

/**
 * The journeys of [from_s, to_s) that ended in no conversion, for the data-driven model:
 * every human touch of the range that is on no conversion path, neither of the range's
 * conversions (`paths`) nor of those up to a window after it (a touch near the end may still
 * convert after `to`). Split by person and by the widest window of the paths. Read in time
 * order, in pages, up to MAX_JOURNEY_TOUCHES: past that, the touches read (the range's
 * earliest, which had the longest to convert) stand for the estimated total. Each touch is
 * keyed by `channelOf` (the report's rows) as it is read.
 */
export async function nonConvertingPaths(
  store: Pick<Store, 'pathTouchIds' | 'estimateJourneyTouches' | 'journeyTouches'>,
  env_id: string,
  paths: readonly ConversionPathRecord[],
  from_s: number,
  to_s: number,
  channelOf: ChannelOf,
  maxTouches = MAX_JOURNEY_TOUCHES,
): Promise<NonConvertingRead> {
  const lookback = paths.reduce((m, p) => Math.max(m, p.lookback_s), 0);
  if (lookback === 0) return { journeys: [], count: 0, touches: 0, sample: 1 };
  // Of the later paths only their touch ids are needed: the store reads them, not the paths.
  const converted = new Set<string>(await store.pathTouchIds(env_id, to_s, to_s + lookback));
  for (const p of paths) for (const t of p.touches) converted.add(t.touch_id);
  // Each page is added as it comes, so the work runs between the reads, never in one go; the
  // next page is asked for first, so the store reads it (on its own thread, or the database
  // server) while this one is added, instead of one waiting for the other. The query only
  // leaves after a few promise steps of Kysely's, so a turn of the event loop is let by
  // before the page is added: else the thread waited for `add` (1.2 s of waiting for pages
  // on the demo store; 0.6 s with the turn).
  const journeys = new JourneyBuilder(converted, lookback, channelOf);
  const pageAfter = (cursor: TouchCursor | null) => {
    const p = store.journeyTouches(env_id, from_s, to_s, cursor, TOUCH_PAGE);
    // Awaited on the next turn of the loop; a page asked for when adding one threw is not.
    p.catch(() => {});
    return p;
  };
  let read = 0;
  let after: TouchCursor | null = null;
  let next = pageAfter(null);
  do {
    const page = await next;
    read += page.touches.length;
    after = page.next;
    if (after && read < maxTouches) {
      next = pageAfter(after);
      await nextTurn();
    }
    journeys.add(page.touches);
  } while (after && read < maxTouches);
  const sample =
    after === null
      ? 1
      : Math.min(1, read / (await store.estimateJourneyTouches(env_id, from_s, to_s)));
  return { ...journeys.finish(1 / sample), touches: read, sample };
}
