/**
 * The MRC viewability rule (issue 24), fed by the viewability tag (`/v.js`): an ad is viewable
 * once at least half of its pixels have been in view, on a visible page, for `needMs`
 * continuous milliseconds (1000; 2000 for video). MRC Viewable Ad Impression Measurement
 * Guidelines 2.0, §4.1. Time comes from `now` and timers from `wait`, so it runs on the page's
 * own clock and on a stepped clock in tests.
 */

/** Share of the ad's pixels that must be in view (MRC: 50 %). */
export const IN_VIEW_SHARE = 0.5;

export interface ViewMeter {
  /** The share of the ad in the viewport now (IntersectionObserver's intersectionRatio). */
  share(r: number): void;
  /** Whether the page is hidden now (Page Visibility). */
  hidden(h: boolean): void;
  /** The largest share seen on a visible page so far. */
  max(): number;
}

/**
 * Calls `viewable(ttvMs, maxShare)` once, when the rule is first met; `ttvMs` counts from the
 * meter's creation. Nothing is called when it never is.
 */
export function viewMeter(
  needMs: number,
  now: () => number,
  wait: (fn: () => void, ms: number) => () => void,
  viewable: (ttvMs: number, maxShare: number) => void,
): ViewMeter {
  const start = now();
  let share = 0;
  let hidden = false;
  let max = 0;
  /** When the current stretch in view began; -1 when out of view. */
  let since = -1;
  let done = false;
  let cancel: (() => void) | null = null;

  // Met when the stretch lasted long enough, even if a late timer only sees it now.
  const check = () => {
    if (done || since < 0) return;
    const left = since + needMs - now();
    if (left > 0) {
      cancel = wait(check, left);
      return;
    }
    done = true;
    viewable(since + needMs - start, max);
  };
  const update = () => {
    if (!hidden && share > max) max = share;
    const inView = !hidden && share >= IN_VIEW_SHARE;
    if (inView && since < 0) {
      since = now();
      cancel = wait(check, needMs);
    } else if (!inView && since >= 0) {
      check();
      since = -1;
      cancel?.();
      cancel = null;
    }
  };
  return {
    share(r) {
      share = r;
      update();
    },
    hidden(h) {
      hidden = h;
      update();
    },
    max: () => max,
  };
}
