import type { TouchExclusion } from '../domain/attribution.js';
import type { AppEntry, EnvironmentConfig } from '../domain/config-types.js';
import type { TrackedEvent } from '../domain/event.js';
import {
  deterministicOnly,
  iosAppEvidence,
  iosProbabilisticOff,
} from '../domain/mobile-platform.js';

// Which touches may earn credit for one event's conversions beyond DESIGN §6's windows
// (issue 25): an iOS app event's `ip` and `ip+ua` matches may not, unless the operator allowed
// them for its environment or its app. Ingest and the debugger ask the same question here.

/** What the config says of the app an event names (the top-level `apps` list). */
export type AppRules = Pick<AppEntry, 'platform' | 'ios_probabilistic_matching'>;

/** The configured app an event of `env_id` names by `app_id`, when the config lists it. */
export type AppLookup = (env_id: string, app_id: string) => AppRules | undefined;

/**
 * The lookup over the config's `apps`: an event names its app by store id (App Store id,
 * package name) or bundle id, and only an app of the event's own environment counts.
 */
export function appLookup(apps: readonly AppEntry[]): AppLookup {
  return (env_id, app_id) =>
    apps.find((a) => a.env_id === env_id && (a.app_id === app_id || a.bundle_id === app_id));
}

/**
 * The eligibility filter of an event's conversions, or undefined when every touch DESIGN §6
 * allows may be credited.
 */
export function eventExclusion(
  e: TrackedEvent,
  env: Pick<EnvironmentConfig, 'ios_probabilistic_matching'> | undefined,
  apps?: AppLookup,
): TouchExclusion | undefined {
  const app = e.app_id ? apps?.(e.env_id, e.app_id) : undefined;
  const evidence = iosAppEvidence(e, () => app?.platform);
  if (!evidence) return undefined;
  const allowed = app?.ios_probabilistic_matching ?? env?.ios_probabilistic_matching ?? false;
  if (allowed) return undefined;
  const only = deterministicOnly(iosProbabilisticOff(evidence));
  return (_touch, key) => only(key);
}
