import type { JourneyTouch } from '../../domain/journeys.js';

/** A place in the touches read in (time, id) order, to go on from. */
export interface TouchCursor {
  time: number;
  id: number;
}

/** The stored touches the data-driven model reads for non-converting journeys (issue 23 §2). */
export interface JourneysPort {
  /**
   * About how many human touches the environment has with `time` in [from_s, to_s), the
   * touches `journeyTouches` reads: the day counts the reports keep (a few rows) less each
   * day's bot and prefetch touches (counted on an index of those alone), the first and last
   * day prorated.
   */
  estimateJourneyTouches(env_id: string, from_s: number, to_s: number): Promise<number>;
  /**
   * Human touches with `time` in [from_s, to_s), in (time, id) order after `after`; a page of
   * at most `limit`, and the cursor to go on from (null at the end). Only what a journey
   * needs of each (JourneyTouch): no address or user agent where a browser or user id is.
   */
  journeyTouches(
    env_id: string,
    from_s: number,
    to_s: number,
    after: TouchCursor | null,
    limit: number,
  ): Promise<{ touches: JourneyTouch[]; next: TouchCursor | null }>;
}
