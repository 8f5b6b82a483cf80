/**
 * Counts the turns the event loop takes (setImmediate callbacks) from now until `stop()`:
 * `turns()` is 0 while nothing has let the loop turn, as during a synchronous SQLite read.
 */
export function countTurns(): { turns: () => number; stop: () => void } {
  let turns = 0;
  let running = true;
  const turn = () => {
    turns++;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    turns: () => turns,
    stop: () => {
      running = false;
    },
  };
}

/** Runs `work` and counts the turns the event loop took until it settled. */
export async function loopTurnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ value: T; turns: number }> {
  const counter = countTurns();
  try {
    const value = await work();
    return { value, turns: counter.turns() };
  } finally {
    counter.stop();
  }
}
