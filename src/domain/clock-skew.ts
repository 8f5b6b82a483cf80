/**
 * A touch stamped up to this long after a conversion's `event_time` still counts for it
 * (DESIGN §6): the collector stamps touches with its own clock, while a conversion's time
 * may come from the caller's, and the two differ by seconds. Last-touch attribution, the
 * debugger, conversion paths and the multi-touch models all use this one rule.
 */
export const CLOCK_SKEW_S = 30;

/** True when a touch at `touch_time` came too late to count for a conversion at `time`. */
export function cameAfter(touch_time: number, time: number): boolean {
  return touch_time - time > CLOCK_SKEW_S;
}
