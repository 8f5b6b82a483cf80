import type { DestinationConfig } from '../domain/config-types.js';
import { dedupStaleBefore } from '../domain/dedup.js';
import type { TrackedEvent } from '../domain/event.js';
import type { IngestTx, SetWiseIngest, TouchLookup } from '../store/store.js';
import type { BatchContext, EventOutcome } from './batch-context.js';
import {
  type Arrival,
  arrive,
  conversionRows,
  linkIdentities,
  linkReadsOf,
  processEvent,
  subscribed,
} from './conversions.js';
import {
  type Decided,
  type DecisionInput,
  decideChecked,
  decisionInput,
  firedChecks,
  readsOwnFirst,
  settledByOwn,
} from './decisions.js';
import { type EventChecks, eventChecks } from './install-checks.js';

/** A new event's conversions, waiting for the touch read and the write of their group. */
interface PendingConversions {
  a: Arrival;
  dests: readonly DestinationConfig[];
  input: DecisionInput;
  checks: EventChecks;
  /** Its outcome, which learns the fraud checks that fired once decided. */
  outcome: Extract<EventOutcome, { status: 'accepted' }>;
}

/** The first copy of each dedup key in the batch. */
function firstCopies(arrivals: readonly Arrival[]): Arrival[] {
  const seen = new Set<string>();
  return arrivals.filter(({ e }) => {
    const key = JSON.stringify([e.env_id, e.event_name, e.event_id]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The decisions of a group's events, as decide() makes them, in two set-wise reads at most.
 * The first reads each event's lookup, the address only when its own keys find nothing where
 * the event reads its own first (readsOwnFirst); the second, every key of the events whose
 * own touches did not settle them. A shared address's strangers' touches, most of a
 * Purchase's cost from it (issue 22), are then read only for the events they can change, and
 * a Purchase with no touch of its own still reads once.
 */
async function decideGroup(
  tx: IngestTx,
  set: SetWiseIngest,
  pending: readonly PendingConversions[],
): Promise<Decided[]> {
  const reads = pending.flatMap(({ input, checks }) =>
    'lookup' in input
      ? [{ lookup: input.lookup, own_first: readsOwnFirst(input.lookup, checks) }]
      : [],
  );
  const found = await set.findTouchesOwnFirst(reads);
  let next = 0;
  const decided: Decided[] = [];
  // Events whose own touches did not settle them, with their lookup of every key.
  const open = new Map<number, TouchLookup>();
  for (const [i, { a, dests, input, checks }] of pending.entries()) {
    const read = 'lookup' in input ? found[next++] : undefined;
    // Only an install's flooding check reads more (tx.countClicks), and only for its winners.
    const d = await decideChecked(tx, a.e, dests, input, read?.touches ?? [], checks);
    if ('lookup' in input && read?.own && !settledByOwn(d, dests)) open.set(i, input.lookup);
    decided[i] = d;
  }
  if (open.size === 0) return decided;
  const again = await set.findTouchesMany([...open.values()]);
  for (const [k, i] of [...open.keys()].entries()) {
    const { a, dests, input, checks } = pending[i] as PendingConversions;
    decided[i] = await decideChecked(tx, a.e, dests, input, again[k] ?? [], checks);
  }
  return decided;
}

/**
 * processBatch with set-wise statements: one claim for the batch's first copies; one read of
 * the links of their strong keys; then, in arrival order, each new event's identity links
 * (later events read them, in memory; written in one statement); the touches of
 * the new events in two reads at most (decideGroup) and their conversions in one write,
 * before any copy of a stored event (whose merge reads the conversions so far) and at the
 * end. Touches are not written in the transaction, so reading them later reads the same rows.
 */
export async function processBatchSetWise(
  tx: IngestTx,
  set: SetWiseIngest,
  events: readonly TrackedEvent[],
  ctx: BatchContext,
): Promise<EventOutcome[]> {
  const arrivals = events.map((e) => arrive(e, ctx));
  const firsts = firstCopies(arrivals);
  const staleBefore = dedupStaleBefore(Math.floor(ctx.nowMs / 1000));
  const won = await set.claimAndInsertEvents(
    firsts.map(({ pk, e }) => ({ pk, event: e })),
    ctx.nowMs,
    staleBefore,
  );
  const claimed = new Set(firsts.filter((_, i) => won[i]));
  // The new events' links read in one statement and written in one (SetWiseIngest.bufferLinks).
  await set.bufferLinks(
    [...claimed].map(({ e, env }) => ({
      env_id: e.env_id,
      keys: linkReadsOf(e, env ? subscribed(env, e) : []),
    })),
  );
  let group: PendingConversions[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const pending = group;
    group = [];
    const decided = await decideGroup(tx, set, pending);
    const rows = pending.map(({ a, dests, outcome }, i) => {
      const d = decided[i] as Decided;
      const fraud = firedChecks(d.fraud);
      if (fraud.length > 0) outcome.fraud = fraud;
      const written = conversionRows(a.pk, a.e, dests, d, ctx, a);
      outcome.deliveries = written.deliveries.length;
      return written;
    });
    await set.recordConversions(rows);
  };
  const outcomes: EventOutcome[] = [];
  for (const a of arrivals) {
    if (outcomes.length > 0) await ctx.between?.();
    if (!claimed.has(a)) {
      // A copy of a stored event: its merge may read the conversions of the batch so far.
      await flush();
      outcomes.push(await processEvent(tx, a, ctx));
      continue;
    }
    await linkIdentities(tx, a.e);
    const dests = a.env ? subscribed(a.env, a.e) : [];
    const outcome: PendingConversions['outcome'] = {
      status: 'accepted',
      pk: a.pk,
      conversions: dests.length,
      deliveries: 0,
    };
    if (dests.length > 0) {
      const checks = eventChecks(a.e, a.env, ctx.apps, a.rawIp);
      const input = await decisionInput(tx, a.e, dests, checks);
      group.push({ a, dests, input, checks, outcome });
    }
    outcomes.push(outcome);
  }
  await flush();
  return outcomes;
}
