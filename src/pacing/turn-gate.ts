import { setImmediate as nextTurn } from 'node:timers/promises';

/** Answers a promise to await when the event loop is due a turn, else nothing. */
export type TurnGate = () => Promise<void> | undefined;

/**
 * Work between two turns of the event loop while persons are evaluated. On SQLite every query
 * is synchronous, so awaiting one never lets the loop turn: a full recompute (an audience
 * saved, or more than MAX_DIRTY_KEYS changed keys) of a store with 300,000 touches and
 * 30,000 conversions held the server 28 s, no pixel or event answered.
 */
export const TURN_BUDGET_MS = 10;

/**
 * A gate for work that never waits on its own: once `budgetMs` have passed since the last
 * turn of the event loop, it answers a promise of the next turn, the same one for every
 * caller meanwhile (lanes all stop there); before that it answers nothing to wait for.
 */
export function turnGate(budgetMs = TURN_BUDGET_MS): TurnGate {
  let since = performance.now();
  let turn: Promise<void> | null = null;
  return () => {
    if (turn) return turn;
    if (performance.now() - since < budgetMs) return undefined;
    turn = nextTurn().then(() => {
      turn = null;
      since = performance.now();
    });
    return turn;
  };
}
