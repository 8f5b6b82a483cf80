import {
  attributionRules,
  type ConversionIdentity,
  DEFAULT_PROBABILISTIC_WINDOW_MS,
  type TouchExclusion,
} from '../domain/attribution.js';
import type { DestinationConfig } from '../domain/config-types.js';
import { conversionPathTouches, type PathRules } from '../domain/conversion-path.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { ConversionPathRecord, IngestTx } from '../store/store.js';
import { personLookup, strongKeys } from './person-lookup.js';

/** Lookback of a path when an environment has no destination to take windows from. */
const DEFAULT_LOOKBACK_S = 7 * 86_400;

/**
 * A conversion path looks back as far as the widest click or view window of the
 * destinations that receive the event: the same touches last-touch delivery considers.
 */
export function pathLookbackS(dests: readonly DestinationConfig[]): number {
  const widest = Math.max(0, ...dests.map((d) => Math.max(d.click_window_ms, d.view_window_ms)));
  return widest > 0 ? Math.ceil(widest / 1000) : DEFAULT_LOOKBACK_S;
}

/**
 * The rules of a conversion path over the destinations that receive the event. One path
 * serves them all, so an IP-matched touch reaches as far back as the longest probabilistic
 * window among them (each already clamped to its destination's own windows), as the
 * lookback is the widest window: every IP touch some destination's last touch could credit
 * stays in the path, none older. With no destination, or the defaults, that is 1 d.
 * `exclude` is the event's iOS rule (eligibility.ts); install fraud verdicts stay out, since
 * they are judged for the clicks that would win one destination's credit only.
 */
export function pathRules(
  dests: readonly DestinationConfig[],
  exclude: TouchExclusion | undefined,
): PathRules {
  if (exclude) return makePathRules(dests, exclude);
  let rules = commonRules.get(dests);
  if (rules === undefined) {
    rules = makePathRules(dests, undefined);
    commonRules.set(dests, rules);
  }
  return rules;
}

/**
 * The rules of each destination list seen without an eligibility filter, made once instead of
 * for every event: subscribed() keeps one list per event name and config snapshot. Shared:
 * never changed. (A list made for one event is dropped with it.)
 */
const commonRules = new WeakMap<readonly DestinationConfig[], PathRules>();

function makePathRules(
  dests: readonly DestinationConfig[],
  exclude: TouchExclusion | undefined,
): PathRules {
  const rules = dests.map(attributionRules);
  const longest = (ms: number[]) =>
    Math.ceil((ms.length > 0 ? Math.max(...ms) : DEFAULT_PROBABILISTIC_WINDOW_MS) / 1000);
  return {
    lookback_s: pathLookbackS(dests),
    probabilistic_click_window_s: longest(rules.map((r) => r.probabilistic_click_window_ms)),
    probabilistic_view_window_s: longest(rules.map((r) => r.probabilistic_view_window_ms)),
    ...(exclude ? { exclude } : {}),
    credit: exclude ? rules.map((r) => ({ ...r, exclude })) : rules,
  };
}

/**
 * The oldest time (Unix s) a touch the event's address alone matches can count from: the
 * longest probabilistic window of its destinations, as the path keeps them. No destination's
 * attribution reaches further (attributionRules clamps each to the same or shorter).
 */
export function ipSince(e: TrackedEvent, rules: PathRules): number {
  return (
    e.event_time - Math.max(rules.probabilistic_click_window_s, rules.probabilistic_view_window_s)
  );
}

/** The path of a conversion no touch may be tied to (consent denied, bots). */
export const NO_PATH: PathRules = {
  lookback_s: 0,
  probabilistic_click_window_s: 0,
  probabilistic_view_window_s: 0,
};

/** The path record of one conversion from the touches already read for it. */
export function pathRecord(
  conversion_id: string,
  event_pk: string,
  e: TrackedEvent,
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: PathRules,
  nowMs: number,
): ConversionPathRecord {
  return {
    env_id: e.env_id,
    conversion_id,
    event_pk,
    event_name: e.event_name,
    event_time: e.event_time,
    value: e.properties.value ?? null,
    currency: e.properties.currency ?? null,
    lookback_s: rules.lookback_s,
    // Ads consent denied: no touch may be tied to this person (DESIGN §6).
    touches: e.consent.ads === false ? [] : conversionPathTouches(who, touches, rules),
    created_at_ms: nowMs,
  };
}

/** A conversion whose path is rebuilt: its stored event and the rules of its destinations. */
export interface PathToRebuild {
  conversion_id: string;
  event_pk: string;
  e: TrackedEvent;
  rules: PathRules;
}

/**
 * Rebuilds conversions' paths from the touches stored now (after a rule change). On
 * PostgreSQL their linked browser ids are read in one set-wise statement, and their touches in
 * another, planned once per connection
 * with the older days left out: read one by one, each planned its own read over every day
 * partition, and the demo store's 97,822 conversions did not finish in 300 s (SQLite: 14 s).
 */
export async function rebuildPaths(
  tx: IngestTx,
  items: readonly PathToRebuild[],
  nowMs: number,
): Promise<ConversionPathRecord[]> {
  // The page's links in one read where statements are set-wise: nothing here writes links.
  const linked = tx.setWise
    ? await tx.setWise.findLinkedAnonymousIdsMany(
        items.map((it) => ({ env_id: it.e.env_id, keys: strongKeys(it.e) })),
      )
    : null;
  if (linked && linked.length !== items.length)
    throw new Error(`${linked.length} link reads answered for ${items.length} conversions`);
  const people = [];
  for (const [i, it] of items.entries()) {
    const since = it.e.event_time - it.rules.lookback_s;
    const who = await personLookup(tx, it.e, since, ipSince(it.e, it.rules), linked?.[i]);
    people.push({ it, ...who });
  }
  const lookups = people.map((p) => p.lookup);
  let touches: Touch[][] = [];
  if (tx.setWise) touches = await tx.setWise.findTouchesMany(lookups);
  else for (const l of lookups) touches.push(await tx.findTouches(l));
  if (touches.length !== lookups.length)
    throw new Error(`${touches.length} touch reads answered for ${lookups.length} lookups`);
  return people.map(({ it, who }, i) =>
    pathRecord(it.conversion_id, it.event_pk, it.e, who, touches[i] ?? [], it.rules, nowMs),
  );
}
