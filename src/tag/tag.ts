/**
 * The browser tag, served as `/t.js`: takes over the page's `pixeltrail(...)` loader stub and
 * replays the calls queued before it loaded once the page is idle (or being left). Its own
 * evaluation, on the page's load path, touches no DOM and no storage: it only takes the stub's
 * place; even where it was loaded from (its directory is the default endpoint) is read later.
 */
import { whenIdle } from './idle.js';
import { installQueue } from './queue.js';
import { scriptUrl } from './script-url.js';
import { createTracker, type TagEnvironment } from './tracker.js';

// The collector prepends the environment's settings when t.js is loaded with ?env_id=.
installQueue(window as never, whenIdle, () => createTracker(scriptUrl(), window as TagEnvironment));
