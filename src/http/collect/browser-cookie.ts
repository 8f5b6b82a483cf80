import type { EnvironmentConfig } from '../../domain/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import type { TrackedEvent, Traffic } from '../../domain/event.js';
import {
  type BrowserRequest,
  clearBrowserId,
  type HeaderSink,
  isSafeBrowserId,
  readBrowserId,
  setBrowserId,
} from '../request/identity.js';
import type { Services } from '../services.js';

/** Whether an environment takes browser calls from `origin` (none: not a browser's call). */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (!origin) return true;
  return allowed.includes('*') || allowed.includes(origin);
}

/**
 * Denied only by the environment's `denied` default: the person said nothing yet (the tag's
 * first PageView before the page's CMP answers), which withdraws nothing they agreed to.
 */
function undecided(signals: readonly string[] = []): boolean {
  return (
    signals.includes('default_denied') &&
    signals.every((x) => x === 'default_denied' || x === 'gpp_invalid')
  );
}

/**
 * A tracker's first-party id (the tag's, Segment's, Snowplow's) becomes the collector's
 * `ptid` cookie when the browser has none, so ad pixels served later from this host carry
 * the same id the shop's pages send.
 */
export function adoptBrowserId(
  req: Pick<BrowserRequest, 'headers' | 'protocol'>,
  reply: HeaderSink,
  id: string | undefined,
  env: EnvironmentConfig | undefined,
): void {
  if (env && !readBrowserId(req) && isSafeBrowserId(id)) setBrowserId(req, reply, id, env);
}

/**
 * The tag's beacon: the first event a person consented to gives its id as the cookie; when
 * the shop's own visitor withdrew consent, the collector's cookie goes with the tag's ids.
 */
export function shareCookie(
  s: Services,
  req: Pick<BrowserRequest, 'headers' | 'protocol'>,
  reply: HeaderSink,
  events: readonly TrackedEvent[],
  traffic: Traffic,
): void {
  let cookieFrom: string | undefined;
  let cookieEnv: EnvironmentConfig | undefined;
  let deniedEnv: EnvironmentConfig | undefined;
  for (const e of events) {
    const env = s.environment(e.env_id);
    if (adsPermitted(e.consent) && traffic === 'human' && !cookieFrom) {
      cookieFrom = e.user.anonymous_id;
      cookieEnv = env;
    } else if (!adsPermitted(e.consent) && !undecided(e.consent.signals)) deniedEnv ??= env;
  }
  adoptBrowserId(req, reply, cookieFrom, cookieEnv);
  if (readBrowserId(req) && deniedEnv && !cookieEnv && traffic === 'human')
    clearBrowserId(req, reply, deniedEnv);
}
