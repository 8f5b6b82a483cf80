import type { DestinationConfig } from '../domain/config-types.js';
import { dedupStaleBefore } from '../domain/dedup.js';
import type { TrackedEvent } from '../domain/event.js';
import type { IngestTx, SetWiseIngest } from '../store/store.js';
import type { BatchContext, EventOutcome } from './batch-context.js';
import {
  type Arrival,
  arrive,
  conversionRows,
  linkIdentities,
  processEvent,
  subscribed,
} from './conversions.js';
import { type DecisionInput, decideChecked, decisionInput, firedChecks } from './decisions.js';
import { type EventChecks, eventChecks } from './install-checks.js';

/** A new event's conversions, waiting for the touch read and the write of their group. */
interface PendingConversions {
  a: Arrival;
  dests: DestinationConfig[];
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
 * processBatch with set-wise statements: one claim for the batch's first copies; then, in
 * arrival order, each new event's identity links (later events read them); the touches of
 * the new events in one read and their conversions in one write, before any copy of a stored
 * event (whose merge reads the conversions so far) and at the end. Touches are not written
 * in the transaction, so reading them later reads the same rows.
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
  let group: PendingConversions[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const pending = group;
    group = [];
    const found = await set.findTouchesMany(
      pending.flatMap(({ input }) => ('lookup' in input ? [input.lookup] : [])),
    );
    let next = 0;
    const rows = [];
    for (const { a, dests, input, checks, outcome } of pending) {
      const touches = 'lookup' in input ? (found[next++] ?? []) : [];
      // Only an install's flooding check reads more (tx.countClicks), and only for its winners.
      const decided = await decideChecked(tx, a.e, dests, input, touches, checks);
      const fraud = firedChecks(decided.fraud);
      if (fraud.length > 0) outcome.fraud = fraud;
      const written = conversionRows(a.pk, a.e, dests, decided, ctx, a);
      outcome.deliveries = written.deliveries.length;
      rows.push(written);
    }
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
