import {
  type AttributionDecision,
  attribute,
  attributionRules,
  type ConversionIdentity,
  type TouchExclusion,
} from '../domain/attribution.js';
import type { DestinationConfig } from '../domain/config-types.js';
import { adsPermitted, underLimitedDataUse } from '../domain/consent.js';
import { type PathRules, pathHasOwnTouches } from '../domain/conversion-path.js';
import { isPersonTraffic, type Touch, type TrackedEvent } from '../domain/event.js';
import type { FraudCheck } from '../domain/install-fraud.js';
import type { InstallVerdicts } from '../domain/install-verdicts.js';
import type { IngestTx, TouchLookup } from '../store/store.js';
import { ipSince, pathRules } from './conversion-paths.js';
import { acceptRefusal } from './ingest-privacy.js';
import { type EventChecks, fraudOutcome, settleFlood, untouchedOutcome } from './install-checks.js';
import { CONSENT_DENIED, LIMITED_DATA_USE } from './late-copy.js';
import { personLookup } from './person-lookup.js';
import { needsViews, withViews } from './touch-views.js';

// The attribution decisions of one event's conversions, one per destination it goes to: none
// when consent or a bot rules every touch out, else DESIGN §6 over the person's touches with
// the event's eligibility filter, an install's fraud checks settled (install-checks.ts).

export const NOT_HUMAN = 'not human traffic (bot or prefetch): never credited';

/** What attribution read of the person, reused for the conversion's path. */
export interface PathInput {
  who: ConversionIdentity;
  touches: Touch[];
  rules: PathRules;
}

/**
 * What attribution of one event needs once its person is known: the final decisions when
 * no touch may count (consent, bots), else the touch lookup. Reads the identity links now;
 * the touches may be read later in the same transaction (the ingest path writes none).
 */
export type DecisionInput =
  | { decisions: Map<string, AttributionDecision> }
  | {
      who: ConversionIdentity;
      lookup: TouchLookup;
      /** What the conversion's path keeps of the touches read (conversion-paths.ts). */
      path: PathRules;
      /** The event's eligibility filter (eligibility.ts), when it has one. */
      exclude?: TouchExclusion;
    };

export async function decisionInput(
  tx: IngestTx,
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
  { exclude, path_exclude }: Pick<EventChecks, 'exclude' | 'path_exclude'>,
): Promise<DecisionInput> {
  const decisions = new Map<string, AttributionDecision>();
  if (!adsPermitted(e.consent)) {
    for (const d of dests) {
      const ldu = underLimitedDataUse(d.settings, e.consent);
      decisions.set(d.id, { attributed: false, reason: ldu ? LIMITED_DATA_USE : CONSENT_DENIED });
    }
    return { decisions };
  }
  if (!isPersonTraffic(e.traffic)) {
    for (const d of dests) decisions.set(d.id, { attributed: false, reason: NOT_HUMAN });
    return { decisions };
  }
  const path = pathRules(dests, path_exclude);
  const { who, lookup } = await personLookup(
    tx,
    e,
    e.event_time - path.lookback_s,
    ipSince(e, path),
  );
  return { who, lookup, path, ...(exclude ? { exclude } : {}) };
}

export interface Decided {
  decisions: Map<string, AttributionDecision>;
  path: PathInput | null;
  /** Install fraud flags by destination (install-checks.ts); absent: none. */
  fraud?: Map<string, FraudCheck[]>;
  /** An install's verdicts by destination, kept for the debugger (install-verdicts.ts). */
  verdicts?: Map<string, InstallVerdicts>;
}

export function decideWith(
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
  input: DecisionInput,
  touches: Touch[],
): Decided {
  if ('decisions' in input) return { decisions: input.decisions, path: null };
  const out = new Map<string, AttributionDecision>();
  // Bots and prefetchers are never credited (their touches stay stored, flagged). The list
  // is copied only when one is there to leave out: this runs for every conversion.
  const human = touches.every(isHuman) ? touches : touches.filter(isHuman);
  for (const d of dests) {
    const refusal = acceptRefusal(d.accept, e);
    if (refusal) {
      out.set(d.id, { attributed: false, reason: refusal });
      continue;
    }
    // attributionRules makes a new object: the filter is set on it, not spread into a copy.
    const rules = attributionRules(d);
    if (input.exclude) rules.exclude = input.exclude;
    out.set(d.id, attribute(input.who, human, rules));
  }
  // The path takes the same touches: a bot's or a link scanner's impression is no step of
  // the person's journey, and the multi-touch models would credit it.
  return { decisions: out, path: { who: input.who, touches: human, rules: input.path } };
}

const isHuman = (t: Touch) => isPersonTraffic(t.traffic);

/**
 * decideWith with an install's fraud checks settled first: the clicks that would win judged
 * for flooding until a clean one leads (a flooding one gives way to the next eligible touch),
 * then the flags of each row.
 */
export async function decideChecked(
  tx: IngestTx,
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
  input: DecisionInput,
  read: Touch[],
  checks: EventChecks,
): Promise<Decided> {
  // Viewability is read only for destinations that credit viewable impressions only (issue 24).
  const touches = await withViews(tx, read, needsViews(dests));
  if (!checks.install || !('who' in input)) {
    const first = decideWith(e, dests, input, touches);
    if (!checks.install) return first;
    // Consent or a bot already decided; a suspicious install is still counted as one.
    const { flags, verdicts } = untouchedOutcome(
      checks,
      dests.map((d) => d.id),
    );
    return { ...first, ...(flags.size > 0 ? { fraud: flags } : {}), verdicts };
  }
  const human = touches.filter(isHuman);
  const rules = new Map(
    dests.map((d) => [d.id, { ...attributionRules(d), exclude: input.exclude }]),
  );
  await settleFlood(tx, checks, input.who, human, rules.values());
  const { decisions, path } = decideWith(e, dests, input, touches);
  const { flags, verdicts } = fraudOutcome(checks, input.who, human, rules, decisions);
  return { decisions, path, fraud: flags, verdicts };
}

export async function decide(
  tx: IngestTx,
  e: TrackedEvent,
  dests: readonly DestinationConfig[],
  checks: EventChecks,
): Promise<Decided> {
  const input = await decisionInput(tx, e, dests, checks);
  if (!('lookup' in input)) return decideChecked(tx, e, dests, input, [], checks);
  const { lookup } = input;
  if (!readsOwnFirst(lookup, checks))
    return decideChecked(tx, e, dests, input, await tx.findTouches(lookup), checks);
  const mine = await tx.findTouches(ownKeys(lookup));
  if (mine.length > 0) {
    const first = await decideChecked(tx, e, dests, input, mine, checks);
    if (settledByOwn(first, dests)) return first;
  }
  return decideChecked(tx, e, dests, input, await tx.findTouches(afterOwn(lookup, mine)), checks);
}

/**
 * True when the event's touches are read in two steps: the person's own first (DESIGN §6: an
 * address never moves credit from them), the address's only when those do not settle it
 * (settledByOwn). A shared address (a carrier's NAT, an office) has hundreds of strangers'
 * touches a day, most of the cost of a conversion from it (issue 22). An install's fraud
 * checks judge clicks of every key, so it reads them all at once; with no key of the person's
 * own (a server event with an address alone), the one read is the address's.
 */
export function readsOwnFirst(lookup: TouchLookup, checks: Pick<EventChecks, 'install'>): boolean {
  return !!lookup.ip && !checks.install && hasOwnKey(lookup);
}

/** The first of the two reads: the lookup without its address. */
function ownKeys(lookup: TouchLookup): TouchLookup {
  return { ...lookup, ip: undefined };
}

/**
 * The second read, when the own touches `mine` did not settle the event: with nothing of the
 * person's own, the address's touches are all a lookup of every key finds; else every key.
 */
function afterOwn(lookup: TouchLookup, mine: readonly Touch[]): TouchLookup {
  if (mine.length > 0) return lookup;
  return { ...lookup, user_id: undefined, anonymous_ids: [], touch_ids: [] };
}

/** True when the lookup has a key other than the address: a browser or user id, a touch id. */
function hasOwnKey(l: TouchLookup): boolean {
  return !!l.user_id || l.anonymous_ids.length > 0 || l.touch_ids.length > 0;
}

/**
 * True when touches matched by address could change nothing of `d`: every destination is
 * credited to a deterministic match (classes 1-2 come before any IP class) and the path holds
 * a deterministic match (it then leaves IP-matched touches off).
 */
export function settledByOwn(d: Decided, dests: readonly DestinationConfig[]): boolean {
  if (dests.length === 0 || !d.path) return false;
  for (const dest of dests) {
    const decision = d.decisions.get(dest.id);
    if (!decision?.attributed || decision.attribution.match_type !== 'deterministic') return false;
  }
  return pathHasOwnTouches(d.path.who, d.path.touches, d.path.rules);
}

/** The install fraud checks that fired for any of a conversion's rows, once each. */
export function firedChecks(fraud: Decided['fraud']): FraudCheck[] {
  return fraud ? [...new Set([...fraud.values()].flat())] : [];
}
