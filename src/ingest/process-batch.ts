import type { TrackedEvent } from '../domain/event.js';
import type { IngestTx } from '../store/store.js';
import type { BatchContext, EventOutcome } from './batch-context.js';
import { processBatchSetWise } from './process-batch-set-wise.js';
import { arrive, processEvent } from './process-event.js';

export type { BatchContext, EventOutcome, IngestItem } from './batch-context.js';

/**
 * Applies a batch of events in arrival order inside one transaction, so copies of one event
 * within the batch dedup against each other and later events see the identity links of
 * earlier ones. Touches are committed before, on their own path.
 */
export async function processBatch(
  tx: IngestTx,
  events: readonly TrackedEvent[],
  ctx: BatchContext,
): Promise<EventOutcome[]> {
  for (const e of events) ctx.copies?.note(e.env_id, e.event_name, e.source, ctx.nowMs);
  if (tx.setWise) return processBatchSetWise(tx, tx.setWise, events, ctx);
  const outcomes: EventOutcome[] = [];
  for (const e of events) {
    if (outcomes.length > 0) await ctx.between?.();
    outcomes.push(await processEvent(tx, arrive(e, ctx), ctx));
  }
  return outcomes;
}
