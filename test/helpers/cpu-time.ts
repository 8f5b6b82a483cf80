/**
 * CPU time, not wall time: a bound on it holds on a loaded machine, where a wall-clock bound
 * would be flaky. Used to show that an input costs linear time (issue 18): a quadratic scan of
 * a megabyte takes seconds, a linear one milliseconds, so a bound of tens of ms separates them
 * with a wide margin either way.
 */
export function cpuMs(): () => number {
  const start = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000;
  };
}

/** CPU milliseconds `fn` takes (awaited when it returns a promise). */
export async function cpuMsOf(fn: () => unknown): Promise<number> {
  const elapsed = cpuMs();
  await fn();
  return elapsed();
}
