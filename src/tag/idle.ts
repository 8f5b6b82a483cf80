/**
 * Work the page does not wait for: storage writes, the beacon, the rules script. It runs once
 * the page is idle (`requestIdleCallback`, at most IDLE_TIMEOUT_MS later; a zero timeout
 * where the browser has none) and a read it needs has come back, or at once
 * when the page is being left (`pagehide`, or hidden), so that nothing is lost to a
 * navigation. A first visit's cookie write, localStorage write and sendBeacon each cost the
 * main thread about a millisecond while the page loads.
 */

/** The longest idle work waits on a page that is never idle. */
const IDLE_TIMEOUT_MS = 500;

const tasks: (() => void)[] = [];
/** An asynchronous read the idle work needs (storage.ts): it waits for it. */
let held = Promise.resolve();

/** Runs what is waiting, in the order it was asked for. */
export function runIdleWork(): void {
  for (const task of tasks.splice(0)) task();
}

addEventListener('pagehide', runIdleWork);
// Fired at the document; it bubbles to the window.
addEventListener('visibilitychange', () => document.hidden && runIdleWork());

/**
 * Runs `task` once the page is idle or being left, after the tasks queued before it. With
 * `after` (a read the work needs; it must not reject), no idle work runs before it settles,
 * unless the page is being left.
 */
export function whenIdle(task: () => void, after?: Promise<void>): void {
  if (after) held = after;
  // The first task asks for the idle time; a later one before it comes joins it.
  if (tasks.push(task) > 1) return;
  // Where there is no requestIdleCallback, setTimeout reads the options as a delay of 0.
  (
    (window as unknown as { requestIdleCallback?: typeof setTimeout }).requestIdleCallback ||
    setTimeout
  )(() => held.then(runIdleWork), {
    timeout: IDLE_TIMEOUT_MS,
  } as unknown as number);
}
