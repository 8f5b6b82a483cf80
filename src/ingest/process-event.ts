import type { EnvironmentConfig } from '../domain/config-types.js';
import { dedupStaleBefore, mergeDuplicate } from '../domain/dedup.js';
import type { TrackedEvent } from '../domain/event.js';
import { eventKey } from '../domain/event-key.js';
import type { IngestTx } from '../store/store.js';
import type { BatchContext, EventOutcome } from './batch-context.js';
import {
  linkIdentities,
  type RideAlong,
  reattribute,
  recordConversions,
  subscribed,
} from './conversions.js';
import { protectEvent } from './ingest-privacy.js';
import { settleLateCopy } from './late-copy.js';

// One event of a batch, written statement by statement: claimed or merged into the copy
// already stored, then its identity links and conversions.

/** An event as it is stored: protected, with its key and what its deliveries carry. */
export interface Arrival extends RideAlong {
  e: TrackedEvent;
  env: EnvironmentConfig | undefined;
  pk: string;
}

export function arrive(arrived: TrackedEvent, ctx: BatchContext): Arrival {
  const env = ctx.environment(arrived.env_id);
  // The raw IP is never stored with the event; it rides only on the outbox rows of
  // deliveries whose platform matches on it, and is dropped once they are done.
  const e = protectEvent(arrived, env);
  const rawIp = e.user.ip !== arrived.user.ip ? arrived.user.ip : undefined;
  // So are the clear name and address values, on the rows of the platforms that need them.
  const clearUser = arrived.clear_user;
  return { e, env, pk: eventKey(ctx.nowMs, ctx.newId('')), rawIp, clearUser };
}

export async function processEvent(
  tx: IngestTx,
  a: Arrival,
  ctx: BatchContext,
): Promise<EventOutcome> {
  const { e, env, pk, rawIp, clearUser } = a;
  const nowS = Math.floor(ctx.nowMs / 1000);
  const holder = await tx.claimAndInsertEvent(pk, e, ctx.nowMs, dedupStaleBefore(nowS));
  if (holder) {
    const stored = await tx.getEvent(holder);
    if (stored) {
      const { merged, changed, addedKeys } = mergeDuplicate(stored.event, e);
      // A server copy vouches for a browser copy of the same event.
      const vouched = !!e.verified && !merged.verified;
      if (vouched) merged.verified = e.verified;
      await tx.updateDuplicate(stored.pk, merged);
      if (changed || vouched) {
        await linkIdentities(tx, merged);
        if (env) await reattribute(tx, stored, merged, env, ctx, a);
        if (env)
          await settleLateCopy(tx, { ...ctx, stored, merged, addedKeys, env, rawIp, clearUser });
      }
      return { status: 'duplicate', of: stored.pk };
    }
    // The holder's event is gone (purged): this copy is stored under its own key.
    await tx.insertEvent(pk, e, ctx.nowMs);
  }
  await linkIdentities(tx, e);
  const conversions = env ? await recordConversions(tx, pk, e, subscribed(env, e), ctx, a) : 0;
  return { status: 'accepted', pk, conversions };
}
