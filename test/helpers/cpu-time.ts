import { readFileSync } from 'node:fs';

/**
 * CPU time of the calling thread — the event loop's — in ms. Linux reports it to the
 * nanosecond in /proc/thread-self/schedstat; elsewhere the whole process's CPU time stands in
 * (it adds the GC's helper threads, so it only errs towards failing).
 */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  } catch {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
}

/**
 * Starts a CPU clock of the event loop's thread; the function returned reads the ms spent
 * since. CPU time, not wall time: a bound on it holds on a loaded machine, where a wall-clock
 * bound would be flaky. Used to show that an input costs linear time (issue 18): a quadratic
 * scan of a megabyte takes seconds to minutes, a linear one milliseconds, so a bound of tens
 * of ms separates them with a wide margin either way.
 */
export function cpuMs(): () => number {
  const start = threadCpuMs();
  return () => threadCpuMs() - start;
}

/**
 * The CPU ms of the cheaper of `runs` calls of `fn`: the first call also pays for V8
 * compiling the code, any call may meet a GC pause or a cold cache on a busy box, while an
 * input that costs more than linear time is slow every time.
 */
export async function cheapestCpuMs(fn: () => unknown, runs = 2): Promise<number> {
  let cheapest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const elapsed = cpuMs();
    await fn();
    cheapest = Math.min(cheapest, elapsed());
  }
  return cheapest;
}
