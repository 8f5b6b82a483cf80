/**
 * The browser tag, served as `/t.js`: finds its collector, takes over the page's
 * `pixeltrail(...)` loader stub and replays the calls queued before it loaded, once the page
 * is idle (or being left): its own evaluation, on the page's load path, only reads where it
 * was loaded from and takes the stub's place.
 */
import { whenIdle } from './idle.js';
import { installQueue } from './queue.js';
import { createTracker, type TagEnvironment } from './tracker.js';

/**
 * Where this script was loaded from. Read now: `document.currentScript` is only set while the
 * script first runs.
 */
const script = (document.currentScript ||
  document.querySelector('script[src$="/t.js"]')) as HTMLScriptElement | null;
const scriptUrl = script?.src;

// The collector prepends the environment's settings when t.js is loaded with ?env_id=.
installQueue(window as never, whenIdle, () => createTracker(scriptUrl, window as TagEnvironment));
