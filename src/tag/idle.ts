/**
 * Work the page does not wait for: reading and writing storage, the beacon, the rules script.
 * It runs once the page is idle (`requestIdleCallback`, at most IDLE_TIMEOUT_MS later; a zero
 * timeout where the browser has none), or at once when the page is being left (`pagehide`, or
 * hidden), so that nothing is lost to a navigation. A first visit's cookie read, cookie write,
 * localStorage write and sendBeacon each cost the main thread a millisecond or more while the
 * page loads.
 */

/** The longest idle work waits on a page that is never idle. */
const IDLE_TIMEOUT_MS = 500;
/**
 * The longest the tasks after a read wait for it. A slow read is not a stuck one: at 200 ms a
 * loaded machine's Cookie Store answered too late (CI, 1 run in many) and the page read
 * `document.cookie` after all, the wait the Cookie Store is there to spare it; at 1 s it did
 * once more beside two test suites. Only a read that never settles (a wrapped API) waits
 * this long, and a page being left sends at once whatever the wait.
 */
const READ_WAIT_MS = 3000;

/** A task may return a read the tasks after it need (storage.ts loadStored). */
type IdleTask = () => Promise<void> | void;

const tasks: IdleTask[] = [];

/**
 * Runs what is waiting, in the order it was asked for. At idle time (`idle`) the tasks after
 * a read run once it has settled (it must not reject); a page being left runs them at once.
 */
export function runIdleWork(idle?: boolean): void {
  // A task stays queued while it runs: one it queues (the tracker's first commands queue the
  // cookie read and the ids) then joins this run instead of asking for an idle time of its
  // own, which could come before the read and run the ids without it (CI saw the page read
  // `document.cookie` 2 ms after asking the Cookie Store, under load).
  for (let task = tasks[0]; task; task = tasks[0]) {
    let read: Promise<void> | void = undefined;
    try {
      read = task();
    } catch {
      // One task's failure (storage refused, a throwing Cookie Store) must not hold back the
      // others, the beacon above all.
    }
    tasks.shift();
    if (read && idle) {
      // A read that never settles (a wrapped API) holds the rest READ_WAIT_MS at most; then
      // they run at once.
      read.then(() => runIdleWork(true));
      setTimeout(runIdleWork, READ_WAIT_MS);
      return;
    }
  }
}

addEventListener('pagehide', () => runIdleWork());
// Fired at the document; it bubbles to the window.
addEventListener('visibilitychange', () => document.hidden && runIdleWork());

/** Runs `task` once the page is idle or being left, after the tasks queued before it. */
export function whenIdle(task: IdleTask): void {
  // The first task asks for the idle time; a later one before it comes joins it.
  if (tasks.push(task) > 1) return;
  // Where there is no requestIdleCallback, setTimeout reads the options as a delay of 0.
  (
    (window as unknown as { requestIdleCallback?: typeof setTimeout }).requestIdleCallback ||
    setTimeout
  )(() => runIdleWork(true), { timeout: IDLE_TIMEOUT_MS } as unknown as number);
}
