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

/** A quarter of the input may cost up to this share of the whole when the cost is linear. */
export const LINEAR_RATIO = 8;
/**
 * The thread's CPU clock moves in scheduler ticks (4 ms here: a 256 KB scan reads 0.0 or
 * 4.0 ms), so small costs are noise within this; a quadratic megabyte costs seconds.
 */
export const SLACK_MS = 10;

/**
 * Asserts that `run` costs linear CPU time in the size of its input: the input made at size
 * `n` may cost at most LINEAR_RATIO times the input made at `n / 4` (linear: about 4;
 * quadratic: 16; cubic: 64), plus SLACK_MS. A ratio measured in the same moment holds on a
 * slow or loaded machine, where an absolute bound in ms fails a linear scan that ran slowly
 * (stop 28's CI: a 1 MB scan at 110 ms of CPU against a bound of 100).
 */
export async function expectLinearCpu<T>(
  label: string,
  make: (n: number) => T,
  run: (input: T) => unknown,
  n: number,
): Promise<void> {
  const small = make(Math.floor(n / 4));
  const large = make(n);
  const runs = 3;
  const smallMs = await cheapestCpuMs(() => run(small), runs);
  const largeMs = await cheapestCpuMs(() => run(large), runs);
  if (largeMs > LINEAR_RATIO * smallMs + SLACK_MS)
    throw new Error(
      `${label}: ${largeMs.toFixed(1)} ms of CPU at size ${n}, ${smallMs.toFixed(1)} ms at ` +
        `${Math.floor(n / 4)}: more than ${LINEAR_RATIO}× for 4× the input, not linear`,
    );
}
