/**
 * The loader stub's queue. The page's snippet defines `pixeltrail(...)` as a function pushing
 * its arguments onto `pixeltrail.q`; the tag takes its place and replays those calls in order.
 */

/** One call: the command name, then its arguments. */
export type Command = unknown[];

interface PixeltrailFunction {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  loaded?: boolean;
}

/**
 * Installs `run` as `w.pixeltrail` and replays the stub's queued calls, in the order they
 * were made, then calls `replayed`; once per page.
 */
export function installQueue(
  w: { pixeltrail?: PixeltrailFunction },
  run: (command: Command) => void,
  replayed: () => void,
): void {
  const stub = w.pixeltrail;
  // A second copy of t.js on the page must not replay the queue or wrap dataLayer twice.
  if (stub?.loaded) return;
  const pixeltrail: PixeltrailFunction = (...args) => run(args);
  pixeltrail.loaded = true;
  w.pixeltrail = pixeltrail;
  for (const call of stub?.q || []) run(Array.from(call));
  replayed();
}
