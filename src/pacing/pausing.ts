/**
 * Work on the event loop that lets it turn (issue 22). On SQLite every query is synchronous
 * and a report's arithmetic never waits on anything, so a report over 30,000 conversions held
 * a server's event loop for hundreds of milliseconds, no pixel or event answered. The work
 * asks `pause` after each step; the route passes a TurnGate (turn-gate.ts), which
 * answers a promise of the next turn once 10 ms have passed.
 */

import type { TurnGate } from './turn-gate.js';

/** Never pauses: the work runs in one go (tests, callers with nothing else to serve). */
export const NEVER: TurnGate = () => undefined;

/** Runs `steps` to the end, waiting wherever `pause` asks. */
export async function drive<T>(steps: Generator<void, T>, pause: TurnGate): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    const p = pause();
    if (p) await p;
  }
}

/** Calls `fn` on each item, waiting wherever `pause` asks. */
export async function each<T>(
  items: readonly T[],
  fn: (t: T, i: number) => void,
  pause: TurnGate,
): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    fn(items[i], i);
    const p = pause();
    if (p) await p;
  }
}

/**
 * `pause`, stopping the work once `signal` is aborted: the next pause throws its reason. A
 * multi-touch report near its bound is seconds of work; a client that has gone (a tab closed,
 * the dashboard's filters changed) should not keep it running.
 */
export function abortable(pause: TurnGate, signal: AbortSignal): TurnGate {
  return () => {
    signal.throwIfAborted();
    return pause();
  };
}
