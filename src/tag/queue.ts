/**
 * The loader stub's queue. The page's snippet defines `pixeltrail(...)` as a function pushing
 * its arguments onto `pixeltrail.q`; the tag takes its place at once, but runs the calls only
 * when `start` says so (at idle time: building events, reading the dataLayer and storage are
 * no part of the page's load), in the order they were made.
 */

/** One call: the command name, then its arguments. */
export type Command = unknown[];

interface PixeltrailFunction {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  loaded?: boolean;
}

/** What runs the commands, and what to call once the held ones have been run. */
export interface CommandRunner {
  run: (command: Command) => void;
  replayed: () => void;
}

/**
 * Installs `w.pixeltrail`, which holds the stub's calls and the page's next ones until the
 * task given to `start` makes the runner (`create`), runs them and calls `replayed`; later
 * calls run as they come. Once per page.
 */
export function installQueue(
  w: { pixeltrail?: PixeltrailFunction },
  start: (task: () => void) => void,
  create: () => CommandRunner,
): void {
  const stub = w.pixeltrail;
  // A second copy of t.js on the page must not replay the queue or wrap dataLayer twice.
  if (stub?.loaded) return;
  let held: ArrayLike<unknown>[] | undefined = stub?.q || [];
  let runner: CommandRunner;
  const pixeltrail: PixeltrailFunction = (...args) => (held ? held.push(args) : runner.run(args));
  pixeltrail.loaded = true;
  w.pixeltrail = pixeltrail;
  start(() => {
    runner = create();
    // A call made while one runs (a CMP answering at once) waits its turn.
    for (let call = held!.shift(); call; call = held!.shift()) runner.run(Array.from(call));
    held = undefined;
    runner.replayed();
  });
}
