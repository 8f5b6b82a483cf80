/**
 * The browser tag, served as `/t.js`: finds its collector, takes over the page's
 * `pixeltrail(...)` loader stub and replays the calls queued before it loaded.
 */
import { installQueue } from './queue.js';
import { createTracker } from './tracker.js';

/**
 * Where this script was loaded from, without the file name: `https://host/t.js` → `https://host`.
 * Read now: `document.currentScript` is only set while the script first runs.
 */
function scriptBase(): string {
  const script = (document.currentScript ||
    document.querySelector('script[src$="/t.js"]')) as HTMLScriptElement | null;
  return script ? new URL('.', script.src).href : location.origin;
}

// The collector prepends the environment's consent default, `follow_cmp`, `click_id_param`
// and whether it has trigger rules when t.js is loaded with ?env_id=.
const env = window as {
  pixeltrailConsentDefault?: string;
  pixeltrailCmp?: boolean;
  pixeltrailClickParam?: string;
  pixeltrailRules?: boolean;
};
const tracker = createTracker(
  scriptBase(),
  env.pixeltrailConsentDefault,
  env.pixeltrailCmp,
  env.pixeltrailClickParam,
  env.pixeltrailRules,
);
installQueue(window as never, tracker.run, tracker.replayed);
