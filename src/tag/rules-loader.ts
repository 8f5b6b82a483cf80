/**
 * Codeless triggers live on the server (`/rules.js?env_id=…`: the rules engine with this
 * environment's rules). Loaded as a second, cached script so t.js stays small and pages
 * without rules pay one cached request.
 */
import { whenIdle } from './idle.js';

/**
 * Appends the rules script for `envId` from the collector at `base`, once the page is idle:
 * the triggers it installs listen for clicks and form posts, which come later.
 */
export function loadRules(base: string, envId: string): void {
  whenIdle(() => {
    const script = document.createElement('script');
    // A script the page appends is async already (HTML: "non-blocking").
    script.src = `${base}/rules.js?env_id=${encodeURIComponent(envId)}`;
    document.head.append(script);
  });
}
