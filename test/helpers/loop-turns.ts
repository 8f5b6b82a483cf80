/**
 * Runs `work` and counts the turns the event loop took (setImmediate callbacks) until it
 * settled: 0 when `work` never let the loop turn, as a synchronous SQLite read does.
 */
export async function loopTurnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let running = true;
  const turn = () => {
    turns++;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  try {
    const value = await work();
    return { value, turns };
  } finally {
    running = false;
  }
}
