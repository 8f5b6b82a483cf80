import {
  ACTION_SOURCES,
  type ActionSource,
  type Consent,
  type TrackedEvent,
  type UserKeys,
} from './event.js';

/** Copies of one `(env_id, event_name, event_id)` within this window are one event. */
export const DEDUP_WINDOW_S = 48 * 3600;

/**
 * A dedup key first seen before this (Unix s) no longer holds at `nowS`: a copy arriving now
 * is a new event. Keys seen exactly 48 h ago still hold.
 */
export function dedupStaleBefore(nowS: number): number {
  return nowS - DEDUP_WINDOW_S;
}

function fillMissing<T extends object>(first: T, later: T): { value: T; changed: boolean } {
  const value = { ...first } as Record<string, unknown>;
  let changed = false;
  for (const [key, v] of Object.entries(later)) {
    if (v !== undefined && v !== null && (value[key] === undefined || value[key] === null)) {
      value[key] = v;
      changed = true;
    }
  }
  return { value: value as T, changed };
}

/**
 * Consent of the merged event: what the first copy said, filled from the later one, except
 * that a denial in the later copy wins (issue 20: the person's latest word, as decideConsent
 * lets denials win over grants). A later grant never lifts an earlier denial.
 */
function mergeConsent(first: Consent, later: Consent): { value: Consent; changed: boolean } {
  const filled = fillMissing(first, later);
  const value = { ...filled.value };
  let changed = filled.changed;
  for (const key of ['ads', 'analytics'] as const) {
    if (later[key] === false && value[key] !== false) {
      value[key] = false;
      changed = true;
    }
  }
  if (changed && later.signals?.length) {
    value.signals = [...new Set([...(first.signals ?? []), ...later.signals])];
  }
  return { value, changed };
}

/** Keys of `later`'s user the first copy lacked (a browser copy brings `fbp`, a server copy the email). */
function addedUserKeys(first: UserKeys, later: UserKeys): string[] {
  const u = first as Record<string, unknown>;
  return Object.entries(later)
    .filter(([k, v]) => v !== undefined && v !== null && (u[k] === undefined || u[k] === null))
    .map(([k]) => k);
}

const ACTION_SOURCE_SET: ReadonlySet<string> = new Set(ACTION_SOURCES);

/** The action source a copy states: its own, or the `properties.action_source` of old callers. */
function statedActionSource(e: TrackedEvent): ActionSource | undefined {
  if (e.action_source) return e.action_source;
  const own = e.properties.action_source;
  return typeof own === 'string' && ACTION_SOURCE_SET.has(own) ? (own as ActionSource) : undefined;
}

/**
 * The merged event's action source, when it must change: a first copy that states none takes
 * the one a later copy states, and a tag (browser) copy is "website" by nature. A first copy
 * that states one keeps it, and so does a first tag copy (it happened on the website, which
 * the platforms read from its page URL and user agent).
 */
function mergedActionSource(first: TrackedEvent, later: TrackedEvent): ActionSource | undefined {
  if (statedActionSource(first) || first.source === 'tag') return undefined;
  return statedActionSource(later) ?? (later.source === 'tag' ? 'website' : undefined);
}

/**
 * Merges a later copy into the first one: the first copy's fields are kept, fields it lacked
 * are filled from the later copy (a browser copy brings the cookie, a server copy the email,
 * a CRM copy where the sale happened: `action_source`); a consent denial in the later copy wins. `addedKeys` names the user keys the copy added.
 */
export function mergeDuplicate(
  first: TrackedEvent,
  later: TrackedEvent,
): { merged: TrackedEvent; changed: boolean; addedKeys: string[] } {
  const user = fillMissing(first.user, later.user);
  const properties = fillMissing(first.properties, later.properties);
  const consent = mergeConsent(first.consent, later.consent);
  const action_source = mergedActionSource(first, later);
  const merged: TrackedEvent = {
    ...first,
    user: user.value,
    properties: properties.value,
    consent: consent.value,
  };
  if (action_source) merged.action_source = action_source;
  // The app a later copy names (an SDK's copy after the backend's) tells where it came from.
  const app_id = first.app_id ? undefined : later.app_id;
  if (app_id) merged.app_id = app_id;
  return {
    merged,
    changed: user.changed || properties.changed || consent.changed || !!action_source || !!app_id,
    addedKeys: addedUserKeys(first.user, later.user),
  };
}
